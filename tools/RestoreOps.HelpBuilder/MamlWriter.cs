using System.Globalization;
using System.Text;
using System.Xml;

namespace RestoreOps.HelpBuilder;

/// <summary>
/// Writes cmdlet help as MAML, the XML PowerShell's Get-Help reads from &lt;assembly&gt;.dll-Help.xml: a
/// helpItems root (namespace http://msh, schema="maml") with one command:command per cmdlet.
/// </summary>
internal static class MamlWriter
{
    public const string MshNamespace = "http://msh";
    public const string MamlNamespace = "http://schemas.microsoft.com/maml/2004/10";
    public const string CommandNamespace = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    public const string DevNamespace = "http://schemas.microsoft.com/maml/dev/2004/10";
    public const string MSHelpNamespace = "http://msdn.microsoft.com/mshelp";

    public static void Write(IReadOnlyList<HelpPage> pages, Stream output)
    {
        var settings = new XmlWriterSettings
        {
            Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            Indent = true,
            IndentChars = "  ",
            NewLineChars = "\n",
            NewLineHandling = NewLineHandling.Replace,
        };
        using var w = XmlWriter.Create(output, settings);
        w.WriteStartDocument();
        w.WriteStartElement("helpItems", MshNamespace);
        w.WriteAttributeString("schema", "maml");
        foreach (var page in pages) WriteCommand(w, page);
        w.WriteEndElement();
        w.WriteEndDocument();
    }

    private static void WriteCommand(XmlWriter w, HelpPage page)
    {
        w.WriteStartElement("command", "command", CommandNamespace);
        w.WriteAttributeString("xmlns", "maml", null, MamlNamespace);
        w.WriteAttributeString("xmlns", "command", null, CommandNamespace);
        w.WriteAttributeString("xmlns", "dev", null, DevNamespace);
        w.WriteAttributeString("xmlns", "MSHelp", null, MSHelpNamespace);

        // NAME and SYNOPSIS
        w.WriteStartElement("command", "details", CommandNamespace);
        Element(w, "command", "name", CommandNamespace, page.Name);
        Element(w, "command", "verb", CommandNamespace, page.Verb);
        Element(w, "command", "noun", CommandNamespace, page.Noun);
        Paras(w, "maml", "description", MamlNamespace, page.Synopsis);
        w.WriteEndElement();

        // DESCRIPTION
        Paras(w, "maml", "description", MamlNamespace, page.Description);

        // SYNTAX: one syntaxItem per parameter set, its parameters in the order the page's syntax block shows them
        w.WriteStartElement("command", "syntax", CommandNamespace);
        foreach (var block in page.Syntax)
        {
            w.WriteStartElement("command", "syntaxItem", CommandNamespace);
            Element(w, "maml", "name", MamlNamespace, page.Name);
            foreach (var sp in block.Parameters)
            {
                var p = page.Parameters.First(x => x.Name == sp.Name);
                WriteParameter(w, p, p.For(block.SetName)!, inSyntax: true);
            }
            w.WriteEndElement();
        }
        w.WriteEndElement();

        // PARAMETERS: each parameter once
        w.WriteStartElement("command", "parameters", CommandNamespace);
        foreach (var p in page.Parameters) WriteParameter(w, p, p.Metadata[0], inSyntax: false);
        w.WriteEndElement();

        // INPUTS and OUTPUTS
        WriteTypes(w, "inputTypes", "inputType", page.Inputs);
        WriteTypes(w, "returnValues", "returnValue", page.Outputs);

        // NOTES
        w.WriteStartElement("maml", "alertSet", MamlNamespace);
        Paras(w, "maml", "alert", MamlNamespace, page.Notes);
        w.WriteEndElement();

        // EXAMPLES
        w.WriteStartElement("command", "examples", CommandNamespace);
        foreach (var example in page.Examples)
        {
            w.WriteStartElement("command", "example", CommandNamespace);
            Element(w, "maml", "title", MamlNamespace, $"-------------------------- {example.Title} --------------------------");
            Element(w, "dev", "code", DevNamespace, example.Code);
            Paras(w, "dev", "remarks", DevNamespace, example.Remarks);
            w.WriteEndElement();
        }
        w.WriteEndElement();

        // RELATED LINKS: a page-relative link keeps its text (Get-Help <name> finds it); only web addresses are URIs
        w.WriteStartElement("maml", "relatedLinks", MamlNamespace);
        foreach (var link in page.Links)
        {
            w.WriteStartElement("maml", "navigationLink", MamlNamespace);
            Element(w, "maml", "linkText", MamlNamespace, link.Text);
            Element(w, "maml", "uri", MamlNamespace,
                link.Uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || link.Uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? link.Uri : "");
            w.WriteEndElement();
        }
        w.WriteEndElement();

        w.WriteEndElement();
    }

    private static void WriteParameter(XmlWriter w, Parameter p, ParameterMetadata m, bool inSyntax)
    {
        w.WriteStartElement("command", "parameter", CommandNamespace);
        w.WriteAttributeString("required", Bool(m.Required));
        w.WriteAttributeString("variableLength", Bool(p.Type.EndsWith("[]", StringComparison.Ordinal)));
        w.WriteAttributeString("globbing", Bool(m.Wildcards));
        w.WriteAttributeString("pipelineInput", m.PipelineInput);
        w.WriteAttributeString("position", m.Position?.ToString(CultureInfo.InvariantCulture) ?? "named");
        w.WriteAttributeString("aliases", m.Aliases.Count == 0 ? "none" : string.Join(", ", m.Aliases));
        Element(w, "maml", "name", MamlNamespace, p.Name);
        Paras(w, "maml", "description", MamlNamespace, p.Description);
        if (inSyntax && m.AcceptedValues.Count > 0)
        {
            w.WriteStartElement("command", "parameterValueGroup", CommandNamespace);
            foreach (var value in m.AcceptedValues) ParameterValue(w, value, required: false, variableLength: false);
            w.WriteEndElement();
        }
        // Get-Help shows a switch in a syntax line without a value.
        if (!(inSyntax && p.IsSwitch)) ParameterValue(w, p.Type, required: !p.IsSwitch, variableLength: p.Type.EndsWith("[]", StringComparison.Ordinal));
        w.WriteStartElement("dev", "type", DevNamespace);
        Element(w, "maml", "name", MamlNamespace, p.Type);
        Element(w, "maml", "uri", MamlNamespace, "");
        w.WriteEndElement();
        Element(w, "dev", "defaultValue", DevNamespace, m.DefaultValue);
        w.WriteEndElement();
    }

    private static void ParameterValue(XmlWriter w, string value, bool required, bool variableLength)
    {
        w.WriteStartElement("command", "parameterValue", CommandNamespace);
        w.WriteAttributeString("required", Bool(required));
        w.WriteAttributeString("variableLength", Bool(variableLength));
        w.WriteString(value);
        w.WriteEndElement();
    }

    private static void WriteTypes(XmlWriter w, string listName, string itemName, IReadOnlyList<TypeEntry> entries)
    {
        w.WriteStartElement("command", listName, CommandNamespace);
        foreach (var entry in entries)
        {
            w.WriteStartElement("command", itemName, CommandNamespace);
            w.WriteStartElement("dev", "type", DevNamespace);
            Element(w, "maml", "name", MamlNamespace, entry.TypeName);
            w.WriteEndElement();
            Paras(w, "maml", "description", MamlNamespace, entry.Description);
            w.WriteEndElement();
        }
        w.WriteEndElement();
    }

    private static void Paras(XmlWriter w, string prefix, string name, string ns, IReadOnlyList<string> paragraphs)
    {
        w.WriteStartElement(prefix, name, ns);
        foreach (var para in paragraphs) Element(w, "maml", "para", MamlNamespace, para);
        w.WriteEndElement();
    }

    private static void Element(XmlWriter w, string prefix, string name, string ns, string text)
    {
        w.WriteStartElement(prefix, name, ns);
        w.WriteString(text);
        w.WriteEndElement();
    }

    private static string Bool(bool value) => value ? "true" : "false";
}
