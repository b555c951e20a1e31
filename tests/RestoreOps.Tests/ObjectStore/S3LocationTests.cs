using RestoreOps.ObjectStore;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

public sealed class S3LocationTests
{
    [Theory]
    [InlineData("s3://backups/pg", "backups", "pg")]
    [InlineData("s3://backups/pg/", "backups", "pg")]
    [InlineData("s3://backups/a/b/c//", "backups", "a/b/c")]
    [InlineData("s3://backups", "backups", "")]
    [InlineData("s3://backups/", "backups", "")]
    [InlineData("S3://my.bucket-1/x", "my.bucket-1", "x")]
    public void Parse_splits_bucket_and_prefix(string value, string bucket, string prefix)
    {
        var location = S3Location.Parse(value);
        Assert.Equal(bucket, location.Bucket);
        Assert.Equal(prefix, location.Prefix);
    }

    [Theory]
    [InlineData("backups/pg")]
    [InlineData("https://s3.amazonaws.com/backups/pg")]
    [InlineData("s3://")]
    [InlineData("s3:///pg")]
    [InlineData("s3://my bucket/pg")]
    [InlineData("")]
    public void Parse_rejects_other_forms_naming_the_value_and_the_expected_form(string value)
    {
        var ex = Assert.Throws<ConfigurationException>(() => S3Location.Parse(value));
        Assert.Contains($"'{value}'", ex.Message);
        Assert.Contains("s3://BUCKET/PATH", ex.Message);
        Assert.Equal(FailureKind.Configuration, ex.Kind);
    }

    [Fact]
    public void Key_and_child_join_with_single_slashes()
    {
        var location = S3Location.Parse("s3://backups/pg/");
        Assert.Equal("pg/server/base", location.Key("server", "/base/"));
        Assert.Equal("s3://backups/pg/server", location.Child("server").ToString());
        Assert.Equal("server/wals", S3Location.Parse("s3://backups").Key("server", "wals"));
    }
}
