using System.Text.Json.Nodes;

namespace RestoreOps.Cnpg;

/// <summary>What a drill needs to know about the cluster whose backups it restores: where they live and how to read them.</summary>
/// <param name="Name">Cluster name.</param>
/// <param name="Namespace">Its namespace.</param>
/// <param name="ImageName">The PostgreSQL image it runs, so the restore uses the same major version.</param>
/// <param name="PluginObjectStore">The Barman Cloud plugin's ObjectStore name, when it archives through the plugin.</param>
/// <param name="ServerName">The Barman server folder its backups are under.</param>
/// <param name="BarmanObjectStore">The in-tree <c>spec.backup.barmanObjectStore</c>, when used.</param>
/// <param name="ApplicationDatabase">Its application database (initdb/recovery database), default <c>app</c>.</param>
/// <param name="ApplicationOwner">Its owner role.</param>
/// <param name="StorageSize">Its data volume size, the default for the drill's.</param>
internal sealed record CnpgSourceCluster(string Name, string Namespace, string? ImageName, string? PluginObjectStore, string ServerName,
    JsonObject? BarmanObjectStore, string ApplicationDatabase, string ApplicationOwner, string? StorageSize = null)
{
    /// <summary>Reads a Cluster resource.</summary>
    public static CnpgSourceCluster From(JsonObject cluster)
    {
        var name = cluster["metadata"]!["name"]!.GetValue<string>();
        var ns = cluster["metadata"]!["namespace"]?.GetValue<string>() ?? "default";
        var spec = cluster["spec"] as JsonObject ?? new JsonObject();
        var plugin = (spec["plugins"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(p => p["name"]?.GetValue<string>() == CnpgNames.BarmanCloudPlugin);
        var inTree = spec["backup"]?["barmanObjectStore"] as JsonObject;
        var server = plugin?["parameters"]?["serverName"]?.GetValue<string>()
            ?? inTree?["serverName"]?.GetValue<string>()
            ?? name;
        var bootstrap = spec["bootstrap"];
        var database = bootstrap?["initdb"]?["database"]?.GetValue<string>() ?? bootstrap?["recovery"]?["database"]?.GetValue<string>() ?? "app";
        var owner = bootstrap?["initdb"]?["owner"]?.GetValue<string>() ?? bootstrap?["recovery"]?["owner"]?.GetValue<string>() ?? database;
        return new CnpgSourceCluster(name, ns, spec["imageName"]?.GetValue<string>(),
            plugin?["parameters"]?["barmanObjectName"]?.GetValue<string>(), server,
            inTree?.DeepClone().AsObject(), database, owner, spec["storage"]?["size"]?.GetValue<string>());
    }
}
