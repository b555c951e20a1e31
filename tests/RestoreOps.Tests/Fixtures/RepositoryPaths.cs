namespace RestoreOps.Tests.Fixtures;

/// <summary>The checkout the tests (and benchmarks) run from: the folder holding RestoreOps.sln.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = Find();

    // RESTOREOPS_REPO lets a build that lives outside the checkout (a published test folder) find tools/ and docs/.
    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("RESTOREOPS_REPO") is { Length: > 0 } configured && File.Exists(Path.Combine(configured, "RestoreOps.sln")))
            return configured;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RestoreOps.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No RestoreOps.sln above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
