// Command tfgen-random writes the random provider's Pulumi package schema and bridge metadata
// (`tfgen-random schema --out DIR --skip-docs --skip-examples`), which
// pulumi-resource-random embeds. e2e/build-tools runs it before building the provider. The
// schema gets the provider's version, as pulumi-random's build does after tfgen.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"items-audit.local/e2e/random-provider/providerinfo"
)

// version is set by build-tools with -ldflags "-X main.version=…".
var version = "0.0.0-dev"

func main() {
	pftfgen.Main("random", providerinfo.Random(version, nil))
	if err := setSchemaVersion(outDir(os.Args[1:])); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// outDir returns the value of tfgen's --out flag.
func outDir(args []string) string {
	for i, a := range args {
		if a == "--out" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "."
}

// setSchemaVersion writes the version into schema.json: tfgen leaves it out so that the
// committed schema of a bridged provider does not change with every release.
func setSchemaVersion(dir string) error {
	path := filepath.Join(dir, "schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	schema["version"] = version
	data, err = json.MarshalIndent(schema, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
