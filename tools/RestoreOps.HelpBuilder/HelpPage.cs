namespace RestoreOps.HelpBuilder;

/// <summary>One cmdlet's help, as read from its platyPS 2.0 Markdown page.</summary>
internal sealed class HelpPage
{
    public required string File { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyDictionary<string, string> Header { get; init; }
    public required IReadOnlyList<string> Synopsis { get; init; }
    public required IReadOnlyList<string> Description { get; init; }
    /// <summary>The parameter sets in the order of the SYNTAX section; one unnamed set when the page shows a single block.</summary>
    public required IReadOnlyList<SyntaxBlock> Syntax { get; init; }
    public required IReadOnlyList<Example> Examples { get; init; }
    /// <summary>Every documented parameter in page order, WhatIf and Confirm included; CommonParameters excluded.</summary>
    public required IReadOnlyList<Parameter> Parameters { get; init; }
    public required IReadOnlyList<TypeEntry> Inputs { get; init; }
    public required IReadOnlyList<TypeEntry> Outputs { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    public required IReadOnlyList<Link> Links { get; init; }

    public string Verb => Name[..Name.IndexOf('-', StringComparison.Ordinal)];
    public string Noun => Name[(Name.IndexOf('-', StringComparison.Ordinal) + 1)..];
}

/// <summary>One parameter set's syntax block: its name (null for a cmdlet with one set) and the parameters it lists, in order.</summary>
internal sealed record SyntaxBlock(string? SetName, bool IsDefault, string Code, IReadOnlyList<SyntaxParameter> Parameters);

/// <summary>How a syntax line shows a parameter: whether it is bracketed (optional), positional, and its value type (null for a switch).</summary>
internal sealed record SyntaxParameter(string Name, bool Required, bool Positional, string? ValueType);

internal sealed record Example(string Title, string Code, IReadOnlyList<string> Remarks);

internal sealed record TypeEntry(string TypeName, IReadOnlyList<string> Description);

internal sealed record Link(string Text, string Uri);

/// <summary>A parameter and its metadata blocks (one per group of parameter sets with the same metadata).</summary>
internal sealed class Parameter
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Description { get; init; }
    public required IReadOnlyList<ParameterMetadata> Metadata { get; init; }

    public string Type => Metadata[0].Type;
    public IReadOnlyList<string> Aliases => Metadata[0].Aliases;
    public bool IsSwitch => Type == "SwitchParameter";

    /// <summary>The metadata block that covers <paramref name="setName"/> (null: the cmdlet has one set).</summary>
    public ParameterMetadata? For(string? setName) =>
        Metadata.FirstOrDefault(m => m.AllSets || (setName is not null && m.Sets.Contains(setName, StringComparer.Ordinal)));
}

/// <summary>One yaml block of a parameter section.</summary>
internal sealed record ParameterMetadata(
    string Type,
    bool AllSets,
    IReadOnlyList<string> Sets,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> AcceptedValues,
    bool Required,
    int? Position,
    string DefaultValue,
    bool ByValue,
    bool ByPropertyName,
    bool Wildcards)
{
    /// <summary>As Get-Help shows it: "True (ByValue, ByPropertyName)" or "False".</summary>
    public string PipelineInput =>
        !ByValue && !ByPropertyName ? "False"
        : $"True ({string.Join(", ", new[] { ByValue ? "ByValue" : null, ByPropertyName ? "ByPropertyName" : null }.OfType<string>())})";
}

/// <summary>A page that does not follow the schema: names the file and the section.</summary>
internal sealed class PageException(string file, string section, string message) : Exception($"{file}: {section}: {message}")
{
    public string File { get; } = file;
    public string Section { get; } = section;
    public string Detail { get; } = message;
}
