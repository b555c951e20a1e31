namespace RestoreOps.Tests.Evidence;

/// <summary>Where the repository, the schema and the test artifacts are.</summary>
internal static class TestLocations
{
    public static string RepositoryRoot => Fixtures.RepositoryPaths.Root;

    public static string SchemaPath => Path.Combine(RepositoryRoot, "docs", "schemas", "drill-record.schema.json");

    /// <summary>artifacts/test-results/evidence (git-ignored): what a human looks at after a run.</summary>
    public static string Artifacts
    {
        get
        {
            var dir = Path.Combine(RepositoryRoot, "artifacts", "test-results", "evidence");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Made = new();

    static TestLocations() =>
        // Tests read these folders until their last assertion; they go when the test process does, not one by one.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var dir in Made)
            {
                try { Directory.Delete(dir, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        };

    /// <summary>A fresh folder under the temp directory, deleted when the test process exits.</summary>
    public static string NewTempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "restoreops-evidence-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        Made.Add(dir);
        return dir;
    }
}
