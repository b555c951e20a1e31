using Xunit;

namespace RestoreOps.Tests.Fixtures;

/// <summary>Tests that share one s3rver.</summary>
[CollectionDefinition("s3rver")]
public sealed class S3rverCollection : ICollectionFixture<S3rverServer>
{
}
