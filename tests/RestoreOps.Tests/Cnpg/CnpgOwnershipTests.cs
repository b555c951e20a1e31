using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using Xunit;

namespace RestoreOps.Tests.Cnpg;

public sealed class CnpgOwnershipTests
{
    private static JsonObject Resource(string? managedBy, string? drill, string? expires = null, string? purpose = null)
    {
        var labels = new JsonObject();
        if (managedBy is not null) labels[CnpgNames.ManagedByLabel] = managedBy;
        if (drill is not null) labels[CnpgNames.DrillIdLabel] = drill;
        var annotations = new JsonObject();
        if (expires is not null) annotations[CnpgNames.ExpiresAnnotation] = expires;
        if (purpose is not null) annotations[CnpgNames.PurposeAnnotation] = purpose;
        return new JsonObject
        {
            ["kind"] = "Cluster",
            ["metadata"] = new JsonObject { ["name"] = "c", ["namespace"] = "drills", ["labels"] = labels, ["annotations"] = annotations },
        };
    }

    [Fact]
    public void Only_this_drills_own_objects_may_be_deleted()
    {
        CnpgOwnership.AssertOwned(Resource("restoreops", "d1"), "d1");
        Assert.Contains("did not create it", Assert.Throws<ConfigurationException>(() => CnpgOwnership.AssertOwned(Resource(null, null), "d1")).Message);
        Assert.Contains("did not create it", Assert.Throws<ConfigurationException>(() => CnpgOwnership.AssertOwned(Resource("cloudnative-pg", "d1"), "d1")).Message);
        Assert.Contains("belongs to drill d2", Assert.Throws<ConfigurationException>(() => CnpgOwnership.AssertOwned(Resource("restoreops", "d2"), "d1")).Message);
    }

    [Fact]
    public void A_sweep_takes_expired_drills_only_never_recoveries_or_foreign_objects()
    {
        var now = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        Assert.True(CnpgOwnership.IsExpiredDrillObject(Resource("restoreops", "d1", "2026-11-21T11:00:00Z", "drill"), now));
        Assert.False(CnpgOwnership.IsExpiredDrillObject(Resource("restoreops", "d1", "2026-11-21T13:00:00Z", "drill"), now));
        Assert.False(CnpgOwnership.IsExpiredDrillObject(Resource("restoreops", "d1", "2026-11-21T11:00:00Z", "recovery"), now));
        Assert.False(CnpgOwnership.IsExpiredDrillObject(Resource("restoreops", "d1", "never", "recovery"), now));
        Assert.False(CnpgOwnership.IsExpiredDrillObject(Resource(null, "d1", "2026-11-21T11:00:00Z"), now));
        Assert.False(CnpgOwnership.IsExpiredDrillObject(Resource("restoreops", "d1"), now));
        Assert.Equal("app.kubernetes.io/managed-by=restoreops,restoreops.io/drill-id=d1", CnpgOwnership.DrillSelector("d1"));
    }
}
