using RestoreOps.Model;

namespace RestoreOps.Tests.Evidence;

/// <summary>Drill records built in code, every field filled, so writers and the schema see the whole shape without PostgreSQL.</summary>
internal static class SampleRecords
{
    public static readonly DateTimeOffset Start = new(2026, 11, 21, 6, 0, 0, TimeSpan.Zero);

    public static DrillRecord Passed(string drillId = "20261121-060000-abc123", string source = "s3://backups/prod/pg-main", DateTimeOffset? start = null,
        double restoreSeconds = 95.5, double backupAgeHours = 5, double dataAgeMinutes = 3)
    {
        var t = start ?? Start;
        var r = new DrillRecord
        {
            DrillId = drillId,
            ToolVersion = "1.2.3",
            Host = "drill-runner-1",
            Environment = new DrillEnvironment { Host = "drill-runner-1", User = "restoreops", OperatingSystem = "Debian GNU/Linux 12", Runtime = ".NET 8.0.11", KubernetesContext = "prod-eu" },
            StartedAt = t,
            Source = source,
            Backup = new BackupSummary
            {
                Id = "20261121T010000", Name = "nightly", Method = "barman-cloud", SourceKind = BackupSourceKind.BarmanCloud,
                BeginTime = t.AddHours(-backupAgeHours).AddMinutes(-10), EndTime = t.AddHours(-backupAgeHours),
                BeginWal = "000000010000000000000010", EndWal = "000000010000000000000012", Timeline = 1, PostgresMajorVersion = 15, Compression = "gzip",
            },
            BackupAge = TimeSpan.FromHours(backupAgeHours),
            RecoveryTarget = "latest",
            AchievedRecoveryTime = t.AddMinutes(-dataAgeMinutes),
            AchievedRecoveryLsn = "0/12000060",
            Verdict = DrillVerdict.Passed,
        };
        var at = t;
        PhaseTiming Phase(DrillPhase phase, double seconds, string detail)
        {
            var p = new PhaseTiming { Phase = phase, StartedAt = at, EndedAt = at.AddSeconds(seconds), Succeeded = true, Detail = detail };
            at = p.EndedAt;
            r.Phases.Add(p);
            return p;
        }
        Phase(DrillPhase.Discover, 1.2, "barman-cloud backup 20261121T010000");
        var first = Phase(DrillPhase.Provision, 2.5, "port 54321");
        Phase(DrillPhase.Download, restoreSeconds * 0.5, "1.2 GB");
        Phase(DrillPhase.BaseRestore, restoreSeconds * 0.1, "3 tablespaces");
        Phase(DrillPhase.WalReplay, restoreSeconds * 0.3, "120 segments");
        var ready = Phase(DrillPhase.Ready, restoreSeconds * 0.1 - 2.5, "read/write proven");
        r.RestoreDuration = ready.EndedAt - first.StartedAt;
        Phase(DrillPhase.Checks, 4, "2 of 2 passed");
        r.Checks.Add(new CheckResult { Name = "connectivity", Category = "connectivity", Status = CheckStatus.Passed, Database = "app", Duration = TimeSpan.FromMilliseconds(40), Message = "connected" });
        r.Checks.Add(new CheckResult { Name = "orders rows", Category = "row-count", Status = CheckStatus.Passed, Database = "app", Expected = "between 10000 and 12000", Actual = "11000", Duration = TimeSpan.FromSeconds(1.5), Message = "11000 rows" });
        Phase(DrillPhase.Cleanup, 3, "process 1234; directory /tmp/restoreops-x");
        r.Cleanup.Succeeded = true;
        r.Cleanup.Removed.Add("process 1234");
        r.Cleanup.Removed.Add("directory /tmp/restoreops-x");
        r.EndedAt = at;
        r.DataAge = TimeSpan.FromMinutes(dataAgeMinutes);
        r.Objectives.Add(new ObjectiveResult { Kind = ObjectiveKind.BackupAge, Limit = TimeSpan.FromHours(26), Actual = r.BackupAge, Verdict = ObjectiveVerdict.Met, Message = "backup age within" });
        return r;
    }

    /// <summary>A drill that failed a check and could not clean up: failure, error and problem fields all present.</summary>
    public static DrillRecord Failed(string drillId = "20261121-070000-def456", string source = "s3://backups/prod/pg-main", DateTimeOffset? start = null)
    {
        var r = Passed(drillId, source, start);
        r.Checks.Add(new CheckResult { Name = "sql #1", Category = "sql", Status = CheckStatus.Failed, Database = "app", Expected = "11000", Actual = "10990", Duration = TimeSpan.FromSeconds(0.2), Message = "select count(*) from orders returned 10990, expected 11000. Fix: check the backup's end time." });
        r.Checks.Add(new CheckResult { Name = "sql #2", Category = "sql", Status = CheckStatus.Error, Database = "app", Duration = TimeSpan.FromSeconds(0.1), Message = "relation \"missing\" does not exist" });
        r.Checks.Add(new CheckResult { Name = "optional", Category = "sql", Status = CheckStatus.Skipped, Duration = TimeSpan.Zero, Message = "not applicable" });
        var checks = r.Phases.Single(p => p.Phase == DrillPhase.Checks);
        r.Phases.Replace(checks, checks.End(false, checks.Detail, checks.EndedAt));
        r.Verdict = DrillVerdict.Failed;
        r.FailureCategory = DrillFailureCategory.Checks;
        r.FailedPhase = DrillPhase.Checks;
        r.FailureMessage = "2 check(s) did not pass";
        r.Objectives.Add(new ObjectiveResult { Kind = ObjectiveKind.DataAge, Limit = TimeSpan.FromMinutes(1), Verdict = ObjectiveVerdict.NotMeasured, Message = "data age could not be measured" });
        return r;
    }
}
