using System.Diagnostics;
using System.Reflection;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.PowerShell;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// deploy/Dockerfile cannot be built here (no container runtime). What can be checked is: the script its header
/// names lays out the build context, every COPY source is in it, and the ENTRYPOINT is the published command.
/// </summary>
public sealed class DockerfileTests
{
    private static readonly string Dockerfile = Path.Combine(RepositoryPaths.Root, "deploy", "Dockerfile");

    [Fact]
    public async Task Every_copy_source_exists_after_the_context_script_and_the_entrypoint_is_the_published_command()
    {
        var lines = File.ReadAllLines(Dockerfile);
        var script = lines.TakeWhile(l => l.StartsWith('#')).Select(l => System.Text.RegularExpressions.Regex.Match(l, @"scripts/[\w.-]+\.sh"))
            .First(m => m.Success).Value;
        var context = Path.Combine(Path.GetTempPath(), $"restoreops-image-{Guid.NewGuid():N}");
        try
        {
            var configuration = typeof(DockerfileTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration is { Length: > 0 } c ? c : "Debug";
            var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, script)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment =
                {
                    ["IMAGE_CONTEXT"] = context,
                    ["CONFIGURATION"] = configuration,
                    // The module the PowerShell tests lay out, instead of packaging it a second time.
                    ["RESTOREOPS_MODULE_DIR"] = BuiltModule.Instance.Directory,
                },
            };
            using (var process = Process.Start(start)!)
            {
                var output = process.StandardOutput.ReadToEndAsync();
                var errors = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.True(process.ExitCode == 0, $"{script} failed: {await output}{await errors}");
            }

            // COPY [--from=…] SRC… DEST: sources from the context must exist; --from stages are built in the image.
            var copies = lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal))
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]).ToList();
            Assert.NotEmpty(copies);
            foreach (var copy in copies)
                foreach (var source in copy[..^1])
                    Assert.True(File.Exists(Path.Combine(context, source)) || Directory.Exists(Path.Combine(context, source)), $"COPY {source}: not in the context {script} lays out");
            Assert.True(File.Exists(Path.Combine(context, "module", "RestoreOps", "RestoreOps.psd1")), "the module manifest is not in the context");

            // ENTRYPOINT ["/opt/restoreops/restoreops"]: a file a COPY puts there, executable.
            var entry = lines.Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal));
            var path = System.Text.Json.JsonSerializer.Deserialize<string[]>(entry["ENTRYPOINT".Length..])![0];
            var (from, to) = copies.Select(c => (Source: c[0], Destination: c[^1])).Single(c => path.StartsWith(c.Destination, StringComparison.Ordinal));
            var file = Path.Combine(context, from, path[to.Length..]);
            Assert.True(File.Exists(file), $"ENTRYPOINT {path}: {file} does not exist after {script}");
            Assert.True((File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0, $"ENTRYPOINT {path} is not executable");
            var run = Process.Start(new ProcessStartInfo(file, ["rbac", "--help"]) { RedirectStandardOutput = true })!;
            var help = await run.StandardOutput.ReadToEndAsync();
            await run.WaitForExitAsync();
            Assert.Equal(0, run.ExitCode);
            Assert.Contains("--source-namespace", help, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(context)) Directory.Delete(context, recursive: true);
        }
    }
}
