// Command pulumi-resource-random is the Pulumi random provider built by the Plugin Framework
// bridge (github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf) around the upstream Terraform
// random provider. schema.json and bridge-metadata.json are written next to this file by
// tfgen-random at build time (e2e/build-tools).
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"items-audit.local/e2e/random-provider/providerinfo"
)

// version is set by build-tools with -ldflags "-X main.version=…".
var version = "0.0.0-dev"

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	pftfbridge.Main(context.Background(), "random", providerinfo.Random(version, bridgeMetadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema})
}
