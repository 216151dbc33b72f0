// Package providerinfo maps the upstream Terraform random provider to the Pulumi package
// "random". It is not pulumi-random's mapping (that repository is not served by the Go module
// proxy): every TF resource random_x becomes random:index/randomX:RandomX, which is the token
// the pulumi_random Python SDK uses for each resource it has.
package providerinfo

import (
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Random returns the bridge's description of the provider. bridgeMetadata is the
// bridge-metadata.json that tfgen wrote for the same mapping (nil when tfgen runs).
func Random(version string, bridgeMetadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		Name:         "random",
		P:            pftfbridge.ShimProvider(shim.NewProvider()),
		Version:      version,
		MetadataInfo: tfbridge.NewProviderMetadata(bridgeMetadata),
	}
	// No prefix is stripped, so random_password keeps "Random" in its Pulumi name.
	info.MustComputeTokens(tokens.SingleModule("", "index", tokens.MakeStandard("random")))
	info.MustApplyAutoAliases()
	return info
}
