using System.Globalization;
using System.Management.Automation;
using System.Runtime.CompilerServices;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// Lets a TimeSpan parameter take the durations the CLI and check files take (<c>30m</c>, <c>1h30m</c>, <c>90s</c>,
/// <c>7d</c>, <c>PT30M</c>) besides PowerShell's own <c>00:30:00</c> and TimeSpan values.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DurationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc />
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        if (value is not string text) return inputData;
        // PowerShell's own form ("00:30:00", "1.02:00:00") keeps its meaning: a plain "30" is 30 days there, not 30 s.
        if (text.Contains(':', StringComparison.Ordinal) || TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out _)) return inputData;
        if (TryParse(text, out var duration)) return duration;
        throw new ArgumentTransformationMetadataException(
            $"'{text}' is not a duration. Use {Forms()}, or a TimeSpan such as 00:30:00.");
    }

    // The engine is loaded on first use, not when PowerShell reads the attribute off the parameter.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryParse(string text, out TimeSpan value) => InputDuration.TryParse(text, out value);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Forms() => InputDuration.Forms;
}
