using RestoreOps.HelpBuilder;

// RestoreOps.HelpBuilder --docs <folder of cmdlet pages> --out <path of the MAML file>
//
// Reads every *.md page in the docs folder except README.md (platyPS 2.0 schema, one cmdlet per page) and
// writes the MAML help file PowerShell's Get-Help reads, e.g. en-US/RestoreOps.PowerShell.dll-Help.xml.
// Exit codes: 0 written; 1 a page does not follow the schema (each problem is printed with its file and
// section, nothing is written); 2 wrong arguments or no pages.

const string Usage = "usage: RestoreOps.HelpBuilder --docs <folder of cmdlet pages> --out <path>/RestoreOps.PowerShell.dll-Help.xml";

string? docs = null, output = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--docs" when i + 1 < args.Length: docs = args[++i]; break;
        case "--out" when i + 1 < args.Length: output = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"help: unknown or incomplete argument '{args[i]}'");
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
if (docs is null || output is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
if (!Directory.Exists(docs))
{
    Console.Error.WriteLine($"help: FAILED: the docs folder '{docs}' does not exist.");
    return 2;
}

var helpFileName = Path.GetFileName(output);
if (!helpFileName.EndsWith("-Help.xml", StringComparison.Ordinal))
{
    Console.Error.WriteLine($"help: FAILED: '{helpFileName}' is not a help file name; PowerShell looks for <assembly>.dll-Help.xml.");
    return 2;
}

var files = Directory.EnumerateFiles(docs, "*.md")
    .Where(f => !string.Equals(Path.GetFileName(f), "README.md", StringComparison.OrdinalIgnoreCase))
    .Order(StringComparer.Ordinal)
    .ToList();
if (files.Count == 0)
{
    Console.Error.WriteLine($"help: FAILED: no cmdlet pages (*.md other than README.md) in '{docs}'.");
    return 2;
}

var problems = new List<PageException>();
var pages = new List<HelpPage>();
foreach (var file in files)
{
    // Named as the user would type it: relative to the current folder when below it, else in full.
    var relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), file);
    var display = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? Path.GetFullPath(file) : relative;
    if (PageParser.Parse(file, display, helpFileName, problems) is { } page) pages.Add(page);
}
foreach (var duplicate in pages.GroupBy(p => p.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
    problems.Add(new PageException(duplicate.Last().File, "# name", $"{duplicate.Key} is documented by more than one page"));
foreach (var module in pages.Select(p => p.Header["Module Name"]).Distinct(StringComparer.Ordinal).Skip(1))
    problems.Add(new PageException(pages.First(p => p.Header["Module Name"] == module).File, "YAML header",
        $"'Module Name: {module}' differs from the other pages' '{pages[0].Header["Module Name"]}'; one help file serves one module"));

if (problems.Count > 0)
{
    foreach (var p in problems) Console.Error.WriteLine($"help: {p.File}: {p.Section}: {p.Detail}");
    Console.Error.WriteLine($"help: FAILED: {problems.Count} problem(s) in {problems.Select(p => p.File).Distinct().Count()} page(s); {output} was not written.");
    return 1;
}

// Written whole or not at all: a half-written help file would hide every command's help.
var full = Path.GetFullPath(output);
Directory.CreateDirectory(Path.GetDirectoryName(full)!);
var temp = full + ".tmp";
using (var stream = File.Create(temp)) MamlWriter.Write(pages, stream);
File.Move(temp, full, overwrite: true);
Console.WriteLine($"help: {pages.Count} command(s) from {docs} written to {output}");
return 0;
