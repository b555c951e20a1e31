using System.Text.Json.Nodes;
using RestoreOps.Cnpg;

namespace RestoreOps.Tests.Cnpg;

/// <summary>CNPG resources as a production namespace holds them, for the API test double (tests and benchmarks).</summary>
public static class CnpgResources
{
    /// <summary>A three-instance cluster with in-tree Barman Cloud backups (gzip) to <paramref name="destinationPath"/>.</summary>
    public static JsonObject SourceCluster(string ns, string name, string destinationPath, string endpoint, string? serverName = null)
    {
        var store = new JsonObject
        {
            ["destinationPath"] = destinationPath,
            ["endpointURL"] = endpoint,
            ["s3Credentials"] = new JsonObject
            {
                ["accessKeyId"] = new JsonObject { ["name"] = "s3-creds", ["key"] = "ACCESS_KEY_ID" },
                ["secretAccessKey"] = new JsonObject { ["name"] = "s3-creds", ["key"] = "ACCESS_SECRET_KEY" },
            },
            ["wal"] = new JsonObject { ["compression"] = "gzip" },
            ["data"] = new JsonObject { ["compression"] = "gzip" },
        };
        if (serverName is not null) store["serverName"] = serverName;
        return new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Cluster",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["instances"] = 3,
                ["storage"] = new JsonObject { ["size"] = "1Gi" },
                ["bootstrap"] = new JsonObject { ["initdb"] = new JsonObject { ["database"] = "shop", ["owner"] = "app" } },
                ["backup"] = new JsonObject { ["barmanObjectStore"] = store },
            },
        };
    }

    /// <summary>A three-instance cluster archiving through the Barman Cloud plugin to ObjectStore <paramref name="store"/>.</summary>
    public static JsonObject PluginSourceCluster(string ns, string name, string store, string serverName) => new()
    {
        ["apiVersion"] = CnpgNames.ApiVersion,
        ["kind"] = "Cluster",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["instances"] = 3,
            ["storage"] = new JsonObject { ["size"] = "1Gi" },
            ["bootstrap"] = new JsonObject { ["initdb"] = new JsonObject { ["database"] = "shop", ["owner"] = "app" } },
            ["plugins"] = new JsonArray(new JsonObject
            {
                ["name"] = CnpgNames.BarmanCloudPlugin,
                ["isWALArchiver"] = true,
                ["parameters"] = new JsonObject { ["barmanObjectName"] = store, ["serverName"] = serverName },
            }),
        },
    };

    /// <summary>
    /// The plugin's ObjectStore for <paramref name="destinationPath"/>, with a retention policy, an endpoint CA from Secret
    /// <paramref name="caSecret"/> (key ca.crt) and S3 keys from Secret <paramref name="credentialsSecret"/>
    /// (ACCESS_KEY_ID, ACCESS_SECRET_KEY).
    /// </summary>
    public static JsonObject ObjectStore(string ns, string name, string destinationPath, string endpoint, string credentialsSecret, string? caSecret = null)
    {
        var configuration = new JsonObject
        {
            ["destinationPath"] = destinationPath,
            ["endpointURL"] = endpoint,
            ["s3Credentials"] = new JsonObject
            {
                ["accessKeyId"] = new JsonObject { ["name"] = credentialsSecret, ["key"] = "ACCESS_KEY_ID" },
                ["secretAccessKey"] = new JsonObject { ["name"] = credentialsSecret, ["key"] = "ACCESS_SECRET_KEY" },
            },
            ["wal"] = new JsonObject { ["compression"] = "gzip" },
        };
        if (caSecret is not null) configuration["endpointCA"] = new JsonObject { ["name"] = caSecret, ["key"] = "ca.crt" };
        return new JsonObject
        {
            ["apiVersion"] = "barmancloud.cnpg.io/v1",
            ["kind"] = "ObjectStore",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject { ["retentionPolicy"] = "30d", ["configuration"] = configuration },
        };
    }

    /// <summary>A Secret with <paramref name="data"/> (plain values; base64-encoded here).</summary>
    public static JsonObject Secret(string ns, string name, string type, IReadOnlyDictionary<string, string> data) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Secret",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["type"] = type,
        ["data"] = new JsonObject(data.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(kv.Value))))),
    };
}
