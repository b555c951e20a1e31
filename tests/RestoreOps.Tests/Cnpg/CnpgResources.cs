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
}
