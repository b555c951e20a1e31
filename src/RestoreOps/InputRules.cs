using System.Text.RegularExpressions;

namespace RestoreOps;

/// <summary>
/// The bounds every front end holds input to, in one place so the CLI, the cmdlets and the engine refuse the same
/// values with the same words.
/// </summary>
public static class InputLimits
{
    /// <summary>
    /// How far in the future a catalogue time may lie before it is taken as wrong rather than as clock skew between
    /// the backup host and this one.
    /// </summary>
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(5);

    /// <summary>The longest age or objective a duration option takes (ten years): anything longer is a typo, and overflows arithmetic.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(3650);

    /// <summary>The longest wait a timeout option takes: a restore that needs more than a week is not a drill.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(7);

    /// <summary>The most WAL files fetched at once.</summary>
    public const int MaxWalParallelism = 64;
    /// <summary>The widest WAL window: 4096 segments (64 GiB of 16 MiB segments) of spool.</summary>
    public const int MaxWalWindow = 4096;
}

/// <summary>
/// Drill ids name evidence files, work directories and Kubernetes labels, so they are held to what is safe in all
/// three: 1 to 63 characters of letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, starting and ending with a letter or
/// digit (a Kubernetes label value's rule), and no <c>..</c>. Ids RestoreOps generates always qualify.
/// </summary>
/// <example><code>var id = DrillIds.Validate(userInput, InputKey.DrillId);</code></example>
public static partial class DrillIds
{
    /// <summary>The longest drill id: a Kubernetes label value's limit.</summary>
    public const int MaxLength = 63;

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>True when <paramref name="id"/> is a drill id RestoreOps accepts.</summary>
    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id) && !id.Contains("..", StringComparison.Ordinal);

    /// <summary>Returns <paramref name="id"/> when it is valid (null stays null: "generate one"); the error names the drill id in the front end's spelling.</summary>
    /// <param name="id">The id given by the user.</param>
    /// <exception cref="ConfigurationException">The id could escape the evidence folder, or is not usable as a file name or label.</exception>
    public static string? Validate(string? id) => Validate(id, InputKey.DrillId.Ref());

    /// <summary>Returns <paramref name="id"/> when it is valid (null stays null: "generate one").</summary>
    /// <param name="id">The id given by the user.</param>
    /// <param name="input">The input it came from, named in the error.</param>
    /// <exception cref="ConfigurationException">The id could escape the evidence folder, or is not usable as a file name or label.</exception>
    public static string? Validate(string? id, InputKey input) => Validate(id, input.Ref());

    private static string? Validate(string? id, string inputName)
    {
        if (id is null || IsValid(id)) return id;
        var shown = id.Length <= 80 ? id : id[..80] + $"… ({id.Length} characters)";
        throw new ConfigurationException(
            $"{inputName} '{shown}' is not a usable drill id: it names the evidence files and the restore's directory, so it may hold only letters, digits, '.', '_' and '-', start and end with a letter or digit, have no '..', and be at most {MaxLength} characters.",
            "Pass an id such as nightly-2026-11-21, or leave it out to get a generated one.");
    }
}

/// <summary>
/// Paths made absolute where they enter: PostgreSQL, its restore_command and later stages run in other directories,
/// where a relative path names something else.
/// </summary>
public static class InputPaths
{
    /// <summary>
    /// <paramref name="path"/> resolved against the current directory; null stays null.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="input">The input it came from, named in the error in the front end's spelling.</param>
    /// <exception cref="ConfigurationException">The path is empty or holds a character no path can.</exception>
    public static string? Absolute(string? path, InputKey input) => Absolute(path, input.Ref());

    /// <summary>
    /// <paramref name="path"/> resolved against the current directory; null stays null.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="inputName">How the error names it: an argument with no key (<c>FILE</c>), or a description.</param>
    /// <exception cref="ConfigurationException">The path is empty or holds a character no path can.</exception>
    public static string? Absolute(string? path, string inputName)
    {
        if (path is null) return null;
        try
        {
            if (path.Length > 0) return Path.GetFullPath(path);
        }
        catch (ArgumentException)
        {
        }
        catch (NotSupportedException)
        {
        }
        throw new ConfigurationException($"{inputName} '{path}' is not a path.",
            "Pass a directory or file path, or leave it out (an empty value often means an unset variable in a script).");
    }
}
