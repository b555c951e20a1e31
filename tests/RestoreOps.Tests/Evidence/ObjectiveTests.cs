using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class ObjectiveTests
{
    private static DrillRecord Record()
    {
        var r = SampleRecords.Passed(backupAgeHours: 30, dataAgeMinutes: 3, restoreSeconds: 95.5);
        r.Objectives.Clear();
        r.DataAge = null;
        return r;
    }

    [Fact]
    public void A_breach_fails_the_drill_and_says_by_how_much()
    {
        var r = Record();
        ObjectiveEvaluator.Apply(r, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26), MaxDataAge = TimeSpan.FromMinutes(5), MaxRestoreTime = TimeSpan.FromMinutes(1) });
        Assert.Equal(DrillVerdict.Failed, r.Verdict);
        Assert.Equal(DrillFailureCategory.Objectives, r.FailureCategory);
        Assert.Equal(TimeSpan.FromMinutes(3), r.DataAge);
        var backup = r.Objectives.Single(o => o.Kind == ObjectiveKind.BackupAge);
        Assert.Equal(ObjectiveVerdict.Breached, backup.Verdict);
        Assert.Equal("backup age 1d6h exceeds the objective 1d2h by 4h0m", backup.Message);
        Assert.Equal(ObjectiveVerdict.Met, r.Objectives.Single(o => o.Kind == ObjectiveKind.DataAge).Verdict);
        Assert.Contains("2m0s to spare", r.Objectives.Single(o => o.Kind == ObjectiveKind.DataAge).Message);
        var rto = r.Objectives.Single(o => o.Kind == ObjectiveKind.RestoreTime);
        Assert.Equal(ObjectiveVerdict.Breached, rto.Verdict);
        Assert.Equal("restore time 1m35s exceeds the objective 1m0s by 35.5s", rto.Message);
        Assert.Contains("2 objective(s) not met", r.FailureMessage);
        Assert.Contains("by 4h0m", r.FailureMessage);
    }

    [Fact]
    public void Objectives_that_are_met_keep_a_passed_drill_passed()
    {
        var r = Record();
        ObjectiveEvaluator.Apply(r, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(31), MaxRestoreTime = TimeSpan.FromMinutes(2) });
        Assert.Equal(DrillVerdict.Passed, r.Verdict);
        Assert.Null(r.FailureMessage);
        Assert.All(r.Objectives, o => Assert.Equal(ObjectiveVerdict.Met, o.Verdict));
    }

    [Fact]
    public void An_unmeasurable_objective_is_not_a_pass()
    {
        var r = Record();
        r.AchievedRecoveryTime = null;
        ObjectiveEvaluator.Apply(r, new DrillObjectives { MaxDataAge = TimeSpan.FromMinutes(5) });
        Assert.Equal(DrillVerdict.Failed, r.Verdict);
        Assert.Equal(ObjectiveVerdict.NotMeasured, r.Objectives.Single().Verdict);
        Assert.Contains("drop the data age objective", r.FailureMessage);
    }

    [Fact]
    public void A_drill_that_already_failed_keeps_its_own_reason()
    {
        var r = Record();
        r.Verdict = DrillVerdict.Failed;
        r.FailureCategory = DrillFailureCategory.Restore;
        r.FailureMessage = "missing WAL";
        ObjectiveEvaluator.Apply(r, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(1) });
        Assert.Equal(DrillFailureCategory.Restore, r.FailureCategory);
        Assert.Equal("missing WAL", r.FailureMessage);
        Assert.Equal(ObjectiveVerdict.Breached, r.Objectives.Single().Verdict);
    }

    [Fact]
    public void A_backup_from_the_future_never_meets_an_age_objective()
    {
        // A negative age is a wrong clock or a forged catalogue: "met" would make the stalest backup look the freshest.
        var r = Record();
        r.BackupAge = TimeSpan.FromHours(-2);
        ObjectiveEvaluator.Apply(r, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26) });
        Assert.Equal(DrillVerdict.Failed, r.Verdict);
        var age = r.Objectives.Single();
        Assert.Equal(ObjectiveVerdict.NotMeasured, age.Verdict);
        Assert.Contains("2h0m in the future", age.Message);

        // Within the clock-skew allowance a backup is just new.
        var skewed = Record();
        skewed.BackupAge = TimeSpan.FromMinutes(-1);
        ObjectiveEvaluator.Apply(skewed, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26) });
        Assert.Equal(DrillVerdict.Passed, skewed.Verdict);
    }
}
