using ArchUnitNET.Domain;
using ArchUnitNET.Domain.Dependencies;
using ArchUnitNET.Loader;
using RestoreOps.Cli;
using RestoreOps.Model;
using RestoreOps.Tests.PowerShell;

namespace RestoreOps.Tests.Architecture;

/// <summary>One type's use of another, as the compiled IL states it (signatures, attributes and method bodies).</summary>
/// <param name="FromAssembly">Simple name of the using type's assembly.</param>
/// <param name="From">The using type's full name.</param>
/// <param name="FromLayer">The using type's layer (see <see cref="CompiledDependencies.LayerOf"/>).</param>
/// <param name="ToAssembly">Simple name of the used type's assembly.</param>
/// <param name="To">The used type's full name.</param>
/// <param name="ToLayer">The used type's layer.</param>
public sealed record TypeUse(string FromAssembly, string From, string FromLayer, string ToAssembly, string To, string ToLayer)
{
    public override string ToString() => $"{From} uses {To}";
}

/// <summary>
/// The dependencies between RestoreOps' types, read by ArchUnitNET from the built assemblies (Mono.Cecil underneath,
/// so nothing is loaded or run). Layers are namespaces, except that the engine's root namespace holds two: the door
/// (<see cref="RestoreEngine"/>, on top) and the foundation (errors, input rules, object-store options, at the bottom).
/// </summary>
internal static class CompiledDependencies
{
    public const string EngineAssembly = "RestoreOps";
    public const string ModelAssembly = "RestoreOps.Model";
    public const string CliAssembly = "RestoreOps.Cli";
    public const string PowerShellAssembly = "RestoreOps.PowerShell";

    public const string Door = "RestoreOps (door)";
    public const string Foundation = "RestoreOps (foundation)";

    private const string DoorType = "RestoreOps.RestoreEngine";

    private static readonly Lazy<IReadOnlyList<TypeUse>> EngineAndCli = new(() => Read(new ArchLoader()
        .LoadAssemblies(typeof(RestoreEngine).Assembly, typeof(Backup).Assembly, typeof(CliApp).Assembly)));

    // The module's assembly is not referenced by this test project (its PowerShell stubs would come with it); it is
    // read from the module laid out for the other PowerShell tests.
    private static readonly Lazy<IReadOnlyList<TypeUse>> PowerShellModule = new(() => Read(new ArchLoader()
        .LoadFilteredDirectory(BuiltModule.Instance.Directory, PowerShellAssembly + ".dll", SearchOption.TopDirectoryOnly)));

    /// <summary>Uses whose user is in the engine, the Model or the CLI.</summary>
    public static IReadOnlyList<TypeUse> EngineModelAndCli => EngineAndCli.Value;

    /// <summary>Uses whose user is in the PowerShell module's assembly.</summary>
    public static IReadOnlyList<TypeUse> PowerShellModuleUses => PowerShellModule.Value;

    /// <summary>The layer a type belongs to: its namespace, with the engine's root namespace split into door and foundation.</summary>
    public static string LayerOf(string assembly, string ns, string fullName) =>
        assembly == EngineAssembly && ns == "RestoreOps"
            ? fullName == DoorType || fullName.StartsWith(DoorType + "+", StringComparison.Ordinal) || fullName.StartsWith(DoorType + "/", StringComparison.Ordinal) ? Door : Foundation
            : ns;

    private static IReadOnlyList<TypeUse> Read(ArchLoader loader)
    {
        var architecture = loader.Build();
        var uses = new HashSet<TypeUse>();
        foreach (var type in architecture.Types)
        {
            var fromAssembly = SimpleName(type.Assembly);
            var fromLayer = LayerOf(fromAssembly, type.Namespace.FullName, type.FullName);
            foreach (var dependency in type.Dependencies)
                foreach (var target in Targets(dependency))
                {
                    if (target.IsGenericParameter || target.FullName == type.FullName) continue;
                    var toAssembly = SimpleName(target.Assembly);
                    uses.Add(new TypeUse(fromAssembly, type.FullName, fromLayer, toAssembly, target.FullName,
                        LayerOf(toAssembly, target.Namespace.FullName, target.FullName)));
                }
        }
        return [.. uses.OrderBy(u => u.From, StringComparer.Ordinal).ThenBy(u => u.To, StringComparer.Ordinal)];
    }

    /// <summary>The used type and every type among its generic arguments (<c>List&lt;LocalRestore&gt;</c> uses LocalRestore too).</summary>
    private static IEnumerable<IType> Targets(ITypeDependency dependency)
    {
        yield return dependency.Target;
        foreach (var t in Arguments(dependency.TargetGenericArguments)) yield return t;
    }

    private static IEnumerable<IType> Arguments(IEnumerable<GenericArgument> arguments)
    {
        foreach (var argument in arguments)
        {
            yield return argument.Type;
            foreach (var t in Arguments(argument.GenericArguments)) yield return t;
        }
    }

    private static string SimpleName(ArchUnitNET.Domain.Assembly? assembly) =>
        assembly?.FullName.Split(',')[0].Trim() ?? "(unknown)";
}
