// Package shim exposes the constructor of the upstream Terraform random provider, which lives
// in its internal/provider package. Go lets only packages under the provider's own module path
// import it, so e2e/build-tools gives this package the module path
// github.com/terraform-providers/terraform-provider-random/shim (as pulumi-random's own shim
// does).
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	random "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Plugin Framework provider.
func NewProvider() provider.Provider {
	return random.New()
}
