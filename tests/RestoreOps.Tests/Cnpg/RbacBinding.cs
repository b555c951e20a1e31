using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Kubernetes;

namespace RestoreOps.Tests.Cnpg;

/// <summary>Binds generated drill rules to a fresh token user of the real API server.</summary>
internal static class RbacBinding
{
    /// <summary>
    /// A fresh token user bound to exactly <paramref name="rules"/> (Roles and bindings as <see cref="DrillRbac.Objects"/>
    /// makes them, the subject swapped for the user); returns once the authorizer grants every rule.
    /// </summary>
    public static async Task<TokenUser> BindAsync(RealApiServer server, KubernetesClient admin, KubernetesWriter writer, DrillRbacRequest request,
        IEnumerable<RbacRule> rules, string kubeconfigNamespace, CancellationToken ct)
    {
        var user = server.NewTokenUser(kubeconfigNamespace);
        var kept = rules.ToList();
        foreach (var obj in DrillRbac.Objects(request))
        {
            var ns = obj["metadata"]!["namespace"]!.GetValue<string>();
            var name = $"{obj["metadata"]!["name"]!.GetValue<string>()}-{user.Name}";
            obj["metadata"]!["name"] = name;
            if ((string?)obj["kind"] == "Role")
            {
                var roleRules = kept.Where(r => r.Namespace == ns).ToList();
                obj["rules"] = new JsonArray(roleRules.Select(r => (JsonNode)new JsonObject
                {
                    ["apiGroups"] = new JsonArray(JsonValue.Create(r.ApiGroup)),
                    ["resources"] = new JsonArray(JsonValue.Create(r.Resource)),
                    ["verbs"] = new JsonArray(r.Verbs.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()),
                }).ToArray());
                await admin.CreateAsync(Role, ns, obj, ct);
            }
            else
            {
                obj["roleRef"]!["name"] = name;
                obj["subjects"] = new JsonArray(new JsonObject { ["kind"] = "User", ["apiGroup"] = "rbac.authorization.k8s.io", ["name"] = user.Name });
                await admin.CreateAsync(RoleBinding, ns, obj, ct);
            }
        }
        // The RBAC authorizer reads bindings from a cache: wait until it grants what was bound.
        foreach (var rule in kept)
            while (!await AllowedAsync(writer, user.Name, rule, ct))
                await Task.Delay(50, ct);
        return user;
    }

    private static async Task<bool> AllowedAsync(KubernetesWriter writer, string user, RbacRule rule, CancellationToken ct)
    {
        var slash = rule.Resource.IndexOf('/', StringComparison.Ordinal);
        var attributes = new JsonObject
        {
            ["namespace"] = rule.Namespace, ["verb"] = rule.Verbs[0], ["group"] = rule.ApiGroup,
            ["resource"] = slash < 0 ? rule.Resource : rule.Resource[..slash],
        };
        if (slash >= 0) attributes["subresource"] = rule.Resource[(slash + 1)..];
        var review = await writer.SendAsync(HttpMethod.Post, "/apis/authorization.k8s.io/v1/subjectaccessreviews", new JsonObject
        {
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["kind"] = "SubjectAccessReview",
            ["spec"] = new JsonObject { ["user"] = user, ["resourceAttributes"] = attributes },
        }, new KubernetesRequest("create", SubjectAccessReview, null, null), ct);
        return review?["status"]?["allowed"]?.GetValue<bool>() == true;
    }

    private static readonly ResourceKind Role = new("rbac.authorization.k8s.io", "v1", "roles", "Role");
    private static readonly ResourceKind RoleBinding = new("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding");
    private static readonly ResourceKind SubjectAccessReview = new("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", Namespaced: false);
}
