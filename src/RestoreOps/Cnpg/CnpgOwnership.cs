using System.Globalization;
using System.Text.Json.Nodes;

namespace RestoreOps.Cnpg;

/// <summary>
/// Safety invariant 1 in code: RestoreOps deletes only what it created. An object is RestoreOps' own when it
/// carries <c>app.kubernetes.io/managed-by=restoreops</c> and the drill id; a sweep may take it only after its
/// expiry, and never a recovery target (purpose <c>recovery</c>).
/// </summary>
/// <example><code>CnpgOwnership.AssertOwned(cluster, drillId); // before every DELETE</code></example>
internal static class CnpgOwnership
{
    /// <summary>The label selector that finds one drill's objects (CNPG copies cluster labels to its PVCs and pods).</summary>
    public static string DrillSelector(string drillId) => $"{CnpgNames.ManagedByLabel}={CnpgNames.ManagedByValue},{CnpgNames.DrillIdLabel}={drillId}";

    /// <summary>The label selector that finds every RestoreOps object, for sweeps.</summary>
    public static string AnySelector => $"{CnpgNames.ManagedByLabel}={CnpgNames.ManagedByValue}";

    /// <summary>Throws unless <paramref name="resource"/> belongs to drill <paramref name="drillId"/>.</summary>
    public static void AssertOwned(JsonObject resource, string drillId)
    {
        var meta = resource["metadata"];
        var name = $"{resource["kind"]?.GetValue<string>() ?? "object"} {meta?["namespace"]?.GetValue<string>()}/{meta?["name"]?.GetValue<string>()}";
        var managedBy = meta?["labels"]?[CnpgNames.ManagedByLabel]?.GetValue<string>();
        var drill = meta?["labels"]?[CnpgNames.DrillIdLabel]?.GetValue<string>();
        if (managedBy != CnpgNames.ManagedByValue || drill is null)
            throw new ConfigurationException($"RestoreOps refuses to delete {name}: it does not carry {CnpgNames.ManagedByLabel}={CnpgNames.ManagedByValue} and {CnpgNames.DrillIdLabel}, so RestoreOps did not create it.",
                "Delete it yourself if it really should go; RestoreOps only removes its own drill objects.");
        if (drill != drillId)
            throw new ConfigurationException($"RestoreOps refuses to delete {name}: it belongs to drill {drill}, not {drillId}.",
                $"Remove that drill's objects by its own id, or sweep expired ones ({InputKey.Orphaned.Ref()}).");
    }

    /// <summary>True when a sweep may remove <paramref name="resource"/>: RestoreOps' own, a drill, and past its expiry.</summary>
    public static bool IsExpiredDrillObject(JsonObject resource, DateTimeOffset now)
    {
        var meta = resource["metadata"];
        if (meta?["labels"]?[CnpgNames.ManagedByLabel]?.GetValue<string>() != CnpgNames.ManagedByValue || meta["labels"]?[CnpgNames.DrillIdLabel] is null)
            return false;
        if (meta["annotations"]?[CnpgNames.PurposeAnnotation]?.GetValue<string>() == "recovery") return false;
        var expires = meta["annotations"]?[CnpgNames.ExpiresAnnotation]?.GetValue<string>();
        return DateTimeOffset.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) && at <= now;
    }
}
