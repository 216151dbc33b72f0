package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// pluginFiles prints, as JSON, the pulumi-plugin.json of every installed distribution whose
// top-level package ships one, by distribution name. A provider SDK (pulumi_docker, ...)
// declares its resource plugin there.
const pluginFiles = `import importlib.metadata, json, sys
found = {}
for dist in importlib.metadata.distributions():
    for path in dist.files or ():
        if path.name == "pulumi-plugin.json" and len(path.parts) == 2:
            with open(path.locate(), encoding="utf-8") as handle:
                found.setdefault(dist.metadata["Name"], json.load(handle))
            break
json.dump(found, sys.stdout)
`

// withoutPlugins are Pulumi packages that ship no pulumi-plugin.json and have no resource
// plugin, though their names start with "pulumi-" (upstream's host skips the same ones).
var withoutPlugins = map[string]bool{"pulumi-policy": true, "pulumi-esc-sdk": true}

// requiredPackages lists the resource plugins the program's environment asks for, as upstream's
// host does: the packages pip lists (a virtualenv that cannot run pip fails here, with
// sdk/v3's message naming the command), each with its pulumi-plugin.json (unless that says
// "resource": false); a package named pulumi-NAME without one stands for plugin NAME at the
// package's version.
func requiredPackages(ctx context.Context, tc toolchain.Toolchain) ([]*pulumirpc.PackageDependency, error) {
	installed, err := tc.ListPackages(ctx, true)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginFiles)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("reading the pulumi-plugin.json files of the program's environment: %w", err)
	}
	var declared map[string]*plugin.PulumiPluginJSON
	if err := json.Unmarshal(out, &declared); err != nil {
		return nil, fmt.Errorf("reading the pulumi-plugin.json files of the program's environment: %w", err)
	}
	byName := make(map[string]*plugin.PulumiPluginJSON, len(declared))
	for name, p := range declared {
		byName[normalizedName(name)] = p
	}

	var packages []*pulumirpc.PackageDependency
	for _, pkg := range installed {
		name := normalizedName(pkg.Name)
		if dep := packageDependency(name, pkg.Version, byName[name]); dep != nil {
			packages = append(packages, dep)
		}
	}
	sort.Slice(packages, func(i, j int) bool { return packages[i].Name < packages[j].Name })
	return packages, nil
}

func packageDependency(name, version string, p *plugin.PulumiPluginJSON) *pulumirpc.PackageDependency {
	if withoutPlugins[name] {
		return nil
	}
	if p == nil {
		if !strings.HasPrefix(name, "pulumi-") {
			return nil
		}
		p = &plugin.PulumiPluginJSON{Resource: true}
	}
	if !p.Resource {
		return nil
	}
	dep := &pulumirpc.PackageDependency{
		Kind:             "resource",
		Name:             p.Name,
		Version:          p.Version,
		Server:           p.Server,
		Parameterization: parameterization(p.Parameterization),
		Extension:        parameterization(p.ExtensionParameterization),
	}
	if dep.Name == "" {
		dep.Name = strings.TrimPrefix(name, "pulumi-")
	}
	if dep.Version == "" {
		// Without a declared version, only a plain release version (1.2.3) says which plugin
		// the package goes with; a pre-release's plugin version cannot be derived from it.
		if !releaseVersion.MatchString(version) {
			return nil
		}
		dep.Version = version
	}
	if !strings.HasPrefix(dep.Version, "v") {
		dep.Version = "v" + dep.Version
	}
	return dep
}

var releaseVersion = regexp.MustCompile(`^\d+(\.\d+){2}$`)

func parameterization(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
	if p == nil {
		return nil
	}
	return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
}

// normalizedName is a distribution's name as pip lists it (PEP 503: lower case, runs of
// "-", "_" and "." as one "-").
func normalizedName(name string) string {
	return strings.ToLower(separators.ReplaceAllString(name, "-"))
}

var separators = regexp.MustCompile(`[-_.]+`)
