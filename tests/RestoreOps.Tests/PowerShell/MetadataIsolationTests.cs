using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// The adapter rule (POWERSHELL.md §1): RestoreOps.PowerShell.dll, loaded in PowerShell's own load context, never
/// names a third-party assembly, and the engine types it uses expose none in their public signatures, so nothing
/// from Dependencies/ ever has to exist on PowerShell's side.
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed class MetadataIsolationTests(ModuleMetadata module)
{
    // The families POWERSHELL.md names; the check itself covers everything in Dependencies/.
    private static readonly string[] NamedFamilies = ["Npgsql", "AWSSDK.", "YamlDotNet", "ICSharpCode.SharpZipLib"];

    [Fact]
    public void Dependencies_holds_the_third_party_assemblies_the_rule_is_about()
    {
        // Without them in Dependencies/ the checks below would have nothing to find.
        var missing = NamedFamilies.Where(f => !module.ThirdParty.Any(n => Matches(n, f))).ToList();
        Assert.True(missing.Count == 0, $"Dependencies/ has nothing of {string.Join(", ", missing)}; it has {string.Join(", ", module.ThirdParty)}.");
    }

    [Fact]
    public void The_module_assembly_references_no_third_party_assembly()
    {
        using var reader = new PEReader(File.OpenRead(BuiltModule.Instance.PowerShellAssemblyPath));
        var metadata = reader.GetMetadataReader();
        var offenders = metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))
            .Where(IsThirdParty).Order(StringComparer.Ordinal).ToList();
        Assert.True(offenders.Count == 0, $"RestoreOps.PowerShell.dll references {string.Join(", ", offenders)}; only the engine may, from Dependencies/.");
    }

    [Fact]
    public void Engine_types_the_module_uses_are_public_and_clean()
    {
        var used = EngineTypeReferences();
        Assert.NotEmpty(used);
        var offenders = new List<string>();
        // Engine types reachable from the used ones' public signatures are reachable from the cmdlets too.
        var seen = new HashSet<Type>();
        var pending = new Queue<Type>();
        foreach (var name in used)
        {
            var type = module.Engine.GetType(name);
            if (type is null) offenders.Add($"{name}: not found in the engine");
            else if (seen.Add(type)) pending.Enqueue(type);
        }
        while (pending.TryDequeue(out var type))
        {
            if (!IsVisible(type)) offenders.Add($"{type.FullName}: not public");
            foreach (var (member, signatureType) in PublicSignatures(type))
            {
                IEnumerable<Type> parts;
                try
                {
                    parts = ModuleMetadata.Constituents(signatureType).ToList();
                }
                catch (Exception e) when (e is FileNotFoundException or TypeLoadException)
                {
                    offenders.Add($"{type.FullName}.{member}: {e.Message}");
                    continue;
                }
                foreach (var part in parts)
                {
                    var assembly = part.Assembly.GetName().Name!;
                    if (IsThirdParty(assembly)) offenders.Add($"{type.FullName}.{member}: {part.FullName} from {assembly}");
                    else if (part.Assembly == module.Engine && seen.Add(part)) pending.Enqueue(part);
                }
            }
        }
        Assert.True(offenders.Count == 0, "Engine types the cmdlets reach expose third-party or hidden types:\n" + string.Join("\n", offenders.Distinct()));
    }

    private bool IsThirdParty(string assemblyName) =>
        module.ThirdParty.Contains(assemblyName) || NamedFamilies.Any(f => Matches(assemblyName, f));

    private static bool Matches(string assemblyName, string family) =>
        family.EndsWith('.') ? assemblyName.StartsWith(family, StringComparison.OrdinalIgnoreCase) : string.Equals(assemblyName, family, StringComparison.OrdinalIgnoreCase);

    private static bool IsVisible(Type type) => type.IsPublic || (type.IsNestedPublic && IsVisible(type.DeclaringType!));

    /// <summary>Full names (nested ones with '+') of the types RestoreOps.PowerShell.dll references in the engine assembly.</summary>
    private static List<string> EngineTypeReferences()
    {
        using var reader = new PEReader(File.OpenRead(BuiltModule.Instance.PowerShellAssemblyPath));
        var metadata = reader.GetMetadataReader();
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var handle in metadata.TypeReferences)
        {
            var (name, scope) = FullName(metadata, handle);
            if (scope.Kind == HandleKind.AssemblyReference &&
                metadata.GetString(metadata.GetAssemblyReference((AssemblyReferenceHandle)scope).Name) == "RestoreOps")
                names.Add(name);
        }
        return [.. names];
    }

    private static (string Name, EntityHandle Scope) FullName(MetadataReader metadata, TypeReferenceHandle handle)
    {
        var reference = metadata.GetTypeReference(handle);
        var name = metadata.GetString(reference.Name);
        if (reference.ResolutionScope.Kind == HandleKind.TypeReference)
        {
            var (outer, scope) = FullName(metadata, (TypeReferenceHandle)reference.ResolutionScope);
            return ($"{outer}+{name}", scope);
        }
        var ns = metadata.GetString(reference.Namespace);
        return (ns.Length == 0 ? name : $"{ns}.{name}", reference.ResolutionScope);
    }

    /// <summary>Every type a public member of <paramref name="type"/> mentions, with the member's name.</summary>
    private static IEnumerable<(string Member, Type Type)> PublicSignatures(Type type)
    {
        const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } b) yield return ("(base type)", b);
        foreach (var i in type.GetInterfaces()) yield return ("(interface)", i);
        foreach (var f in type.GetFields(Public)) yield return (f.Name, f.FieldType);
        foreach (var p in type.GetProperties(Public))
        {
            if (!(p.GetMethod?.IsPublic ?? false) && !(p.SetMethod?.IsPublic ?? false)) continue;
            yield return (p.Name, p.PropertyType);
            foreach (var index in p.GetIndexParameters()) yield return (p.Name, index.ParameterType);
        }
        foreach (var e in type.GetEvents(Public)) yield return (e.Name, e.EventHandlerType!);
        foreach (var c in type.GetConstructors(Public))
            foreach (var parameter in c.GetParameters()) yield return (".ctor", parameter.ParameterType);
        foreach (var m in type.GetMethods(Public).Where(m => !m.IsSpecialName))
        {
            yield return (m.Name, m.ReturnType);
            foreach (var parameter in m.GetParameters()) yield return (m.Name, parameter.ParameterType);
            foreach (var g in m.GetGenericArguments().SelectMany(a => a.GetGenericParameterConstraints())) yield return (m.Name, g);
        }
        foreach (var g in type.GetGenericArguments().Where(a => a.IsGenericParameter).SelectMany(a => a.GetGenericParameterConstraints()))
            yield return ("(constraint)", g);
    }
}
