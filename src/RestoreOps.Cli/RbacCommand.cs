using System.CommandLine;

namespace RestoreOps.Cli;

/// <summary>
/// <c>restoreops rbac --source-namespace NS --drill-namespace NS [--service-account NAME] [--port-forward]</c>: prints
/// the Roles and RoleBindings a CNPG drill needs (YAML, for kubectl apply or a Kustomize base). Touches no cluster.
/// </summary>
internal static class RbacCommand
{
    internal static Command Create(TextWriter stdout)
    {
        var source = new Option<string>("--source-namespace") { HelpName = "NAMESPACE", Required = true, Description = "Namespace of the source CNPG Cluster and its Backups." };
        var drill = new Option<string>("--drill-namespace") { HelpName = "NAMESPACE", Required = true, Description = "Namespace the recovery Clusters are created in." };
        var account = new Option<string>("--service-account")
        {
            HelpName = "NAME",
            Description = "The drill's service account (the CronJob pod's identity).",
            DefaultValueFactory = _ => "restoreops",
        };
        var accountNamespace = new Option<string?>("--service-account-namespace") { HelpName = "NAMESPACE", Description = "Namespace of the service account (default: the drill namespace)." };
        var portForward = new Option<bool>("--port-forward") { Description = "Also allow port-forwards to the recovery cluster's pods (drills run from outside the cluster)." };
        var cmd = new Command("rbac", "Print the least-privilege Roles and RoleBindings (YAML) a CNPG drill's service account needs: kubectl apply -f - them.");
        var json = new Option<bool>("--json") { Description = "Print the objects as a JSON array instead of YAML." };
        foreach (var o in new Option[] { source, drill, account, accountNamespace, portForward, json }) cmd.Options.Add(o);
        cmd.SetAction(async (r, ct) =>
        {
            await using var engine = new RestoreEngine(CliApp.Spelling);
            if (r.GetValue(json))
            {
                var objects = engine.GetDrillRbacObjects(r.GetValue(source)!, r.GetValue(drill)!, r.GetValue(account)!, r.GetValue(accountNamespace), r.GetValue(portForward));
                await stdout.WriteLineAsync(new System.Text.Json.Nodes.JsonArray(objects.Select(o => (System.Text.Json.Nodes.JsonNode?)o.DeepClone()).ToArray()).ToJsonString()).ConfigureAwait(false);
                return CliApp.Passed;
            }
            var yaml = engine.GetDrillRbac(r.GetValue(source)!, r.GetValue(drill)!, r.GetValue(account)!, r.GetValue(accountNamespace), r.GetValue(portForward));
            var regenerate = $"restoreops rbac --source-namespace {r.GetValue(source)} --drill-namespace {r.GetValue(drill)} --service-account {r.GetValue(account)}" +
                (r.GetValue(accountNamespace) is { } sa ? $" --service-account-namespace {sa}" : "") + (r.GetValue(portForward) ? " --port-forward" : "");
            await stdout.WriteAsync($"# Regenerate with: {regenerate}\n{yaml}".AsMemory(), ct).ConfigureAwait(false);
            return CliApp.Passed;
        });
        return cmd;
    }
}
