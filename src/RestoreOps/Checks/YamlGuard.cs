using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RestoreOps.Checks;

/// <summary>
/// Reads YAML from a user as an event stream before anything builds a tree from it, so hostile input is refused cheaply:
/// too large, nested too deep (a recursive reader would overflow the stack and kill the process without a record), or
/// expanding through anchors and aliases (a few lines of aliases expand into gigabytes: the "billion laughs").
/// </summary>
internal static class YamlGuard
{
    /// <summary>Largest check file accepted, in UTF-8 bytes.</summary>
    internal const int MaxBytes = 1024 * 1024;

    /// <summary>Deepest nesting of mappings and sequences accepted.</summary>
    internal const int MaxDepth = 64;

    /// <summary>Refuses the file at <paramref name="path"/>, named <paramref name="source"/> in the message, when it is larger than <paramref name="maxBytes"/>, before reading it.</summary>
    internal static void CheckFileSize(string path, string source, string what, long maxBytes = MaxBytes)
    {
        var length = new FileInfo(path).Length;
        if (length > maxBytes) throw TooLarge(source, length, what, maxBytes);
    }

    /// <summary>
    /// Refuses <paramref name="text"/> when it is larger than <paramref name="maxBytes"/> or nests deeper than
    /// <see cref="MaxDepth"/>; with <paramref name="maxExpandedNodes"/> 0 any anchor or alias is refused, otherwise
    /// aliases are allowed while the document, each alias counted as the nodes it stands for, stays within that many
    /// nodes. Only events are read: no alias is ever expanded.
    /// </summary>
    /// <exception cref="ConfigurationException">Names <paramref name="source"/>, the line and the fix.</exception>
    internal static void Check(string text, string source, string what, long maxBytes = MaxBytes, long maxExpandedNodes = 0)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > maxBytes) throw TooLarge(source, bytes, what, maxBytes);
        var parser = new Parser(new StringReader(text));
        var open = new Stack<(string? Anchor, long NodesBefore)>();
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        long nodes = 0;
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                if (maxExpandedNodes == 0)
                {
                    if (e is AnchorAlias alias)
                        throw new ConfigurationException($"{source} line {e.Start.Line}: the alias '*{alias.Value}' is not allowed in {what}.",
                            "Write the value out in full: anchors (&name) and aliases (*name) are refused because a few of them can expand into gigabytes.");
                    if (e is NodeEvent { Anchor.IsEmpty: false } anchored)
                        throw new ConfigurationException($"{source} line {e.Start.Line}: the anchor '&{anchored.Anchor}' is not allowed in {what}.",
                            "Remove the anchor and write each value out in full: anchors (&name) and aliases (*name) are refused because a few of them can expand into gigabytes.");
                }
                switch (e)
                {
                    case MappingStart or SequenceStart:
                        if (open.Count >= MaxDepth)
                            throw new ConfigurationException($"{source} line {e.Start.Line}: {what} nests more than {MaxDepth} levels of mappings and lists.",
                                "Remove the extra nesting: such a file needs a few levels.");
                        open.Push((((NodeEvent)e).Anchor.IsEmpty ? null : ((NodeEvent)e).Anchor.Value, nodes));
                        nodes++;
                        break;
                    case MappingEnd or SequenceEnd:
                        var (anchor, before) = open.Pop();
                        if (anchor is not null) sizes[anchor] = nodes - before;
                        break;
                    case Scalar s:
                        nodes++;
                        if (!s.Anchor.IsEmpty) sizes[s.Anchor.Value] = 1;
                        break;
                    case AnchorAlias a:
                        nodes += sizes.GetValueOrDefault(a.Value.Value, 1);
                        break;
                }
                if (maxExpandedNodes > 0 && nodes > maxExpandedNodes)
                    throw new ConfigurationException(
                        $"{source} line {e.Start.Line}: {what} expands to more than {maxExpandedNodes.ToString("N0", CultureInfo.InvariantCulture)} values once its aliases (*name) are resolved.",
                        "Write the file without aliases that repeat large parts of it (an alias bomb expands a few lines into gigabytes).");
            }
        }
        catch (YamlException e)
        {
            throw new ConfigurationException($"{source} line {e.Start.Line}: not valid YAML: {e.InnerException?.Message ?? e.Message}",
                "Fix the YAML syntax (indentation, quotes, a ':' after each key).", e);
        }
    }

    private static ConfigurationException TooLarge(string source, long bytes, string what, long maxBytes) => new(
        $"{source} is {bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes; {what} may be at most {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes.",
        maxBytes == MaxBytes
            ? "Split the checks into several smaller files, or remove what is not a check (a file of hundreds of checks is still far below 1 MiB)."
            : "Point at a smaller file: this one is far larger than its kind ever needs to be.");
}
