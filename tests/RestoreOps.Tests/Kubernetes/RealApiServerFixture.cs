using Xunit;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// A lease on the run's <see cref="RealApiServer"/>: the collection fixture of "real-api-server", and a class fixture
/// for real-server classes that live in another collection (they need the "backups" fixture too).
/// </summary>
/// <remarks>
/// Where the binaries are absent the lease holds nothing (its tests are skipped by <see cref="RealServerFactAttribute"/>);
/// with <c>CI=true</c> they are not skipped and <see cref="Server"/> fails them with the reason.
/// </remarks>
public sealed class RealApiServerFixture : IAsyncLifetime
{
    private RealApiServer? _server;
    private Exception? _failure;

    /// <summary>The running server; throws why it is not running.</summary>
    internal RealApiServer Server => _server ?? throw new InvalidOperationException(_failure?.Message ?? "The real API server was not started.", _failure);

    public async Task InitializeAsync()
    {
        if (RealApiServer.Locate().Missing is { } missing && !RealApiServer.Required)
        {
            _failure = new InvalidOperationException(missing);
            return;
        }
        try
        {
            _server = await RealApiServer.AcquireAsync();
        }
        catch (Exception e)
        {
            // Reported by every test that asks for the server, instead of one opaque fixture error.
            _failure = e;
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await RealApiServer.ReleaseAsync();
    }
}

/// <summary>Tests against the real kube-apiserver + etcd, started once per run (see <see cref="RealApiServer"/>).</summary>
[CollectionDefinition(Name)]
public sealed class RealApiServerCollection : ICollectionFixture<RealApiServerFixture>
{
    public const string Name = "real-api-server";
}

/// <summary>
/// A test that needs the real API server: skipped, with one line saying how to get the binaries, where they are
/// absent — except under <c>CI=true</c> (<c>.ci/run</c>), where it runs and fails.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RealServerFactAttribute : FactAttribute
{
    public RealServerFactAttribute()
    {
        if (!RealApiServer.Required && RealApiServer.Locate().Missing is { } missing)
            Skip = missing;
    }
}

/// <summary>The <see cref="RealServerFactAttribute"/> rule for theories.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RealServerTheoryAttribute : TheoryAttribute
{
    public RealServerTheoryAttribute()
    {
        if (!RealApiServer.Required && RealApiServer.Locate().Missing is { } missing)
            Skip = missing;
    }
}
