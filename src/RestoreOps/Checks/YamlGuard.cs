using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RestoreOps.Checks;

/// <summary>
/// Reads YAML from a user as an event stream before anything builds a tree from it, so hostile input is refused cheaply:
/// too large, nested too deep (a recursive reader would overflow the stack and kill the process without a record), or
/// using anchors and aliases (a few lines of aliases expand into gigabytes: the "billion laughs").
/// </summary>
internal static class YamlGuard
{
    /// <summary>Largest YAML accepted, in UTF-8 bytes.</summary>
    internal const int MaxBytes = 1024 * 1024;

    /// <summary>Deepest nesting of mappings and sequences accepted.</summary>
    internal const int MaxDepth = 64;

    /// <summary>Refuses a file larger than <see cref="MaxBytes"/> before reading it.</summary>
    internal static void CheckFileSize(string path, string what)
    {
        var length = new FileInfo(path).Length;
        if (length > MaxBytes) throw TooLarge(Path.GetFileName(path), length, what);
    }

    /// <summary>
    /// Refuses <paramref name="text"/> when it is larger than <see cref="MaxBytes"/>, nests deeper than
    /// <see cref="MaxDepth"/> or holds an anchor or alias. Only events are read: no alias is ever expanded.
    /// </summary>
    /// <exception cref="ConfigurationException">Names <paramref name="source"/>, the line and the fix.</exception>
    internal static void Check(string text, string source, string what)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxBytes) throw TooLarge(source, bytes, what);
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                if (e is AnchorAlias alias)
                    throw new ConfigurationException($"{source} line {e.Start.Line}: the alias '*{alias.Value}' is not allowed in {what}.",
                        "Write the value out in full: anchors (&name) and aliases (*name) are refused because a few of them can expand into gigabytes.");
                if (e is NodeEvent { Anchor.IsEmpty: false } anchored)
                    throw new ConfigurationException($"{source} line {e.Start.Line}: the anchor '&{anchored.Anchor}' is not allowed in {what}.",
                        "Remove the anchor and write each value out in full: anchors (&name) and aliases (*name) are refused because a few of them can expand into gigabytes.");
                if (e is MappingStart or SequenceStart && ++depth > MaxDepth)
                    throw new ConfigurationException($"{source} line {e.Start.Line}: {what} nests more than {MaxDepth} levels of mappings and lists.",
                        "Remove the extra nesting: a check file needs a few levels (file, checks list, check, its lists).");
                if (e is MappingEnd or SequenceEnd) depth--;
            }
        }
        catch (YamlException e)
        {
            throw new ConfigurationException($"{source} line {e.Start.Line}: not valid YAML: {e.InnerException?.Message ?? e.Message}",
                "Fix the YAML syntax (indentation, quotes, a ':' after each key).", e);
        }
    }

    private static ConfigurationException TooLarge(string source, long bytes, string what) => new(
        $"{source} is {bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes; {what} may be at most {MaxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (1 MiB).",
        "Split the checks into several smaller files, or remove what is not a check (a check file of hundreds of checks is still far below the limit).");
}
