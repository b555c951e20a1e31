using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Cnpg;

/// <summary>A listed recovery Cluster is Ready by the same rule a wait uses, not by a looser one of its own.</summary>
public sealed class CnpgRestoreClusterMappingTests
{
    private static JsonObject Cluster(bool readyCondition) => new()
    {
        ["metadata"] = new JsonObject
        {
            ["name"] = "drill-x", ["namespace"] = "drills",
            ["labels"] = new JsonObject { [CnpgNames.DrillIdLabel] = "x" },
        },
        ["spec"] = new JsonObject { ["instances"] = 1 },
        ["status"] = new JsonObject
        {
            ["phase"] = CnpgNames.PhaseHealthy,
            ["readyInstances"] = 1,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = CnpgNames.ConditionReady, ["status"] = readyCondition ? "True" : "False" }),
        },
    };

    [Fact]
    public void Healthy_with_every_instance_ready_but_the_ready_condition_false_is_not_ready()
    {
        Assert.NotEqual(RestoreClusterPhase.Ready, CnpgRestoreClusters.ToRestoreCluster(Cluster(readyCondition: false)).Phase);
        Assert.Equal(RestoreClusterPhase.Ready, CnpgRestoreClusters.ToRestoreCluster(Cluster(readyCondition: true)).Phase);
    }
}
