using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RestoreOps.Cnpg;

/// <summary>Who runs CNPG drills and where: the input of <see cref="DrillRbac"/>.</summary>
/// <param name="SourceNamespace">Namespace of the source Cluster and its Backups.</param>
/// <param name="DrillNamespace">Namespace the recovery Clusters are created in.</param>
/// <param name="ServiceAccount">The drill's service account (the CronJob pod's identity).</param>
/// <param name="ServiceAccountNamespace">Namespace of the service account; null: the drill namespace.</param>
/// <param name="PortForward">Also allow port-forwards to the recovery cluster's pods (drills run outside the cluster).</param>
/// <example><code>var yaml = DrillRbac.ToYaml(new DrillRbacRequest("prod", "drills", "restoreops"));</code></example>
internal sealed record DrillRbacRequest(string SourceNamespace, string DrillNamespace, string ServiceAccount = "restoreops",
    string? ServiceAccountNamespace = null, bool PortForward = false)
{
    /// <summary>Where the service account lives.</summary>
    public string AccountNamespace => ServiceAccountNamespace ?? DrillNamespace;
}

/// <summary>One Role rule a drill needs, with the reason it is needed.</summary>
/// <param name="Namespace">The namespace of the Role that holds it.</param>
/// <param name="ApiGroup">API group; empty for the core group.</param>
/// <param name="Resource">Resource as RBAC names it, e.g. <c>clusters</c> or <c>pods/portforward</c>.</param>
/// <param name="Verbs">What may be done.</param>
/// <param name="Why">What the drill does with it (a comment in the YAML).</param>
/// <example><code>foreach (var r in DrillRbac.Rules(request)) Console.WriteLine($"{r.Namespace}: {r.Resource} {string.Join(",", r.Verbs)}");</code></example>
internal sealed record RbacRule(string Namespace, string ApiGroup, string Resource, IReadOnlyList<string> Verbs, string Why);

/// <summary>
/// The least-privilege Roles and RoleBindings of a CNPG drill: exactly what the engine's calls need (catalogue,
/// recovery Cluster create/wait/diagnose/remove, the drill namespace made whole), proven rule by rule against a
/// real API server. One Role per namespace; source and drill namespace may be the same.
/// </summary>
/// <example>
/// <code>
/// File.WriteAllText("rbac.yaml", DrillRbac.ToYaml(new DrillRbacRequest("prod", "drills", "restoreops", PortForward: true)));
/// </code>
/// </example>
internal static partial class DrillRbac
{
    /// <summary>Name of the Role (and RoleBinding) in the source namespace.</summary>
    public const string SourceRoleName = "restoreops-drill-source";
    /// <summary>Name of the Role (and RoleBinding) in the drill namespace.</summary>
    public const string DrillRoleName = "restoreops-drill";

    private const string Barman = "barmancloud.cnpg.io";

    /// <summary>Every rule, source namespace first; rules for the same namespace and resource merged.</summary>
    /// <exception cref="ConfigurationException">A namespace or service account is not a valid Kubernetes name.</exception>
    public static IReadOnlyList<RbacRule> Rules(DrillRbacRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Check(request.SourceNamespace, "source namespace");
        Check(request.DrillNamespace, "drill namespace");
        Check(request.ServiceAccount, "service account");
        if (request.ServiceAccountNamespace is { } sa) Check(sa, "service account namespace");
        string src = request.SourceNamespace, dst = request.DrillNamespace;
        var rules = new List<RbacRule>
        {
            new(src, CnpgNames.Group, "backups", ["list"], "the catalogue: the source cluster's Backup resources"),
            new(src, CnpgNames.Group, "clusters", ["get"], "the source Cluster's backup configuration"),
            new(src, Barman, "objectstores", ["get"], "the source's ObjectStore, copied into the drill namespace (plugin backups)"),
            new(src, "", "secrets", ["get"], "the object-store credentials the source references, copied into the drill namespace"),
            new(dst, CnpgNames.Group, "clusters", ["create", "get", "list", "watch", "delete"], "the recovery Cluster: create, wait for it, remove it; sweep expired drills"),
            new(dst, Barman, "objectstores", ["create", "get", "list", "watch", "delete"], "the ObjectStore copy the recovery reads from"),
            new(dst, "", "secrets", ["create", "get", "list", "watch", "delete"], "credential copies, the generated <cluster>-app secret, and cleanup of the drill's secrets"),
            new(dst, "", "events", ["list"], "diagnosis of a recovery that fails or never becomes ready"),
            new(dst, "batch", "jobs", ["get", "list", "watch", "delete"], "the full-recovery Job: its failure ends the wait; cleanup"),
            new(dst, "", "pods", request.PortForward ? ["get", "list", "watch", "delete"] : ["list", "watch", "delete"],
                request.PortForward ? "the primary pod to port-forward to; cleanup" : "cleanup of the drill's pods"),
            new(dst, "", "services", ["list", "watch", "delete"], "cleanup of the drill's services"),
            new(dst, "", "persistentvolumeclaims", ["list", "watch", "delete"], "cleanup of the drill's volumes"),
        };
        // RestoreOps' WebSocket port-forward is a GET, authorized as "get" (measured on v1.28); kubectl's SPDY one is a
        // POST ("create"), and newer API servers may also check "create" for a WebSocket upgrade.
        if (request.PortForward)
            rules.Add(new(dst, "", "pods/portforward", ["get", "create"], "connect to the restored primary from outside the cluster"));
        return rules.GroupBy(r => (r.Namespace, r.ApiGroup, r.Resource))
            .Select(g => g.Count() == 1 ? g.First() : g.First() with
            {
                Verbs = g.SelectMany(r => r.Verbs).Distinct(StringComparer.Ordinal).ToList(),
                Why = string.Join("; ", g.Select(r => r.Why)),
            })
            .ToList();
    }

    /// <summary>The Roles and RoleBindings as API objects, in apply order (Role before its binding).</summary>
    public static IReadOnlyList<JsonObject> Objects(DrillRbacRequest request)
    {
        var rules = Rules(request);
        var objects = new List<JsonObject>();
        foreach (var ns in new[] { request.SourceNamespace, request.DrillNamespace }.Distinct(StringComparer.Ordinal))
        {
            var name = ns == request.DrillNamespace ? DrillRoleName : SourceRoleName;
            objects.Add(new JsonObject
            {
                ["apiVersion"] = "rbac.authorization.k8s.io/v1",
                ["kind"] = "Role",
                ["metadata"] = Metadata(name, ns),
                ["rules"] = new JsonArray(rules.Where(r => r.Namespace == ns).Select(r => (JsonNode)new JsonObject
                {
                    ["apiGroups"] = new JsonArray(JsonValue.Create(r.ApiGroup)),
                    ["resources"] = new JsonArray(JsonValue.Create(r.Resource)),
                    ["verbs"] = new JsonArray(r.Verbs.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()),
                }).ToArray()),
            });
            objects.Add(new JsonObject
            {
                ["apiVersion"] = "rbac.authorization.k8s.io/v1",
                ["kind"] = "RoleBinding",
                ["metadata"] = Metadata(name, ns),
                ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "Role", ["name"] = name },
                ["subjects"] = new JsonArray(new JsonObject
                {
                    ["kind"] = "ServiceAccount", ["name"] = request.ServiceAccount, ["namespace"] = request.AccountNamespace,
                }),
            });
        }
        return objects;
    }

    /// <summary>The same objects as a YAML stream, each rule preceded by the reason it is there.</summary>
    public static string ToYaml(DrillRbacRequest request)
    {
        var rules = Rules(request);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"# RBAC for RestoreOps CNPG drills: service account {request.AccountNamespace}/{request.ServiceAccount}, source namespace {request.SourceNamespace}, drill namespace {request.DrillNamespace}{(request.PortForward ? ", with port-forward" : "")}.\n");
        // Each front end adds the line that regenerates it, in its own spelling (restoreops rbac …, Get-RestoreOpsRbac …).
        var first = true;
        foreach (var obj in Objects(request))
        {
            if (!first) text.Append("---\n");
            first = false;
            var meta = obj["metadata"]!;
            var ns = (string)meta["namespace"]!;
            text.Append("apiVersion: rbac.authorization.k8s.io/v1\n");
            text.Append(CultureInfo.InvariantCulture, $"kind: {(string)obj["kind"]!}\n");
            text.Append("metadata:\n");
            text.Append(CultureInfo.InvariantCulture, $"  name: {(string)meta["name"]!}\n");
            text.Append(CultureInfo.InvariantCulture, $"  namespace: {ns}\n");
            text.Append("  labels:\n");
            foreach (var (key, value) in (JsonObject)meta["labels"]!)
                text.Append(CultureInfo.InvariantCulture, $"    {key}: {(string)value!}\n");
            if ((string)obj["kind"]! == "Role")
            {
                text.Append("rules:\n");
                foreach (var r in rules.Where(r => r.Namespace == ns))
                {
                    text.Append(CultureInfo.InvariantCulture, $"  # {r.Why}\n");
                    text.Append(CultureInfo.InvariantCulture, $"  - apiGroups: [{Quote(r.ApiGroup)}]\n");
                    text.Append(CultureInfo.InvariantCulture, $"    resources: [{Quote(r.Resource)}]\n");
                    text.Append(CultureInfo.InvariantCulture, $"    verbs: [{string.Join(", ", r.Verbs.Select(Quote))}]\n");
                }
            }
            else
            {
                var roleRef = obj["roleRef"]!;
                var subject = obj["subjects"]![0]!;
                text.Append("roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n");
                text.Append(CultureInfo.InvariantCulture, $"  name: {(string)roleRef["name"]!}\n");
                text.Append("subjects:\n  - kind: ServiceAccount\n");
                text.Append(CultureInfo.InvariantCulture, $"    name: {(string)subject["name"]!}\n");
                text.Append(CultureInfo.InvariantCulture, $"    namespace: {(string)subject["namespace"]!}\n");
            }
        }
        return text.ToString();
    }

    private static JsonObject Metadata(string name, string ns) => new()
    {
        ["name"] = name,
        ["namespace"] = ns,
        // Not managed-by=restoreops: that label marks drill objects RestoreOps may delete, and these must stay.
        ["labels"] = new JsonObject { ["app.kubernetes.io/name"] = "restoreops", ["app.kubernetes.io/component"] = "drill-rbac" },
    };

    private static string Quote(string s) => "\"" + s + "\"";

    private static void Check(string value, string what)
    {
        if (!DnsLabel().IsMatch(value ?? ""))
            throw new ConfigurationException($"The {what} '{value}' is not a valid Kubernetes name.",
                $"Give the {what} as a lowercase DNS label: letters, digits and '-', at most 63 characters, starting and ending with a letter or digit.");
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();
}
