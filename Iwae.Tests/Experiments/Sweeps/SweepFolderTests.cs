using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;

namespace Iwae.Tests.Experiments.Sweeps;

/// <summary>
/// What `sweep status` and `sweep collect` read from a sweep's files, without training: a results.json that does not
/// read or is another run's is invalid, not done; garbage metrics lines are not epochs; a task that died before its run
/// started shows as failed from its log; the architecture is the data's; a VAE's gradient is the ELBO's; pairs are
/// labelled by what varies.
/// </summary>
public class SweepFolderTests : TempDirTests
{
    private static SweepRunOptions Small => new()
    {
        Config = new ModelConfig { Hidden = [8], Latent = 2, K = 2 },
        Train = new TrainOptions { Epochs = 3, Seed = 1 },
        EvalK = 10,
    };

    private SweepFolder Planned(SweepPlan plan)
    {
        var sweep = new SweepFolder(Path.Combine(Dir, "sweep"));
        sweep.WritePlan(plan);
        return sweep;
    }

    /// <summary>
    /// results.json as a run of <paramref name="o"/> on 64-value data would write it, written before how a run executes was
    /// recorded apart: with "threads" and "adaptive_threads" in its training options, which reading ignores.
    /// </summary>
    private static void WriteResults(SweepFolder sweep, SweepRun run, SweepRunOptions o)
    {
        var folder = sweep.Run(run).Create();
        var config = o.Config with { InputSize = 64 };
        folder.WriteResults(new RunResults
        {
            Models = [new ModelResult
            {
                Model = RunFolder.ModelName(config.Model), K = config.K, TestNll = 40.5, TestBoundK1 = -42, TestBoundK = -41, ActiveUnits = 2,
                TrainSeconds = 1, EvalSeconds = 1, Epochs = 3, FinalTrainBound = -43, UnitVariances = [1, 1],
            }],
            Config = config, Train = o.Train, EvalK = o.EvalK, Data = o.Data ?? Mnist.SubsetFolder,
            TestFraction = o.TestFraction,
        });
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(folder.Results))!;
        json["train"]!["threads"] = 7;
        json["train"]!["adaptive_threads"] = false;
        File.WriteAllText(folder.Results, json.ToJsonString());
    }

    [Test]
    public void AResultsJson_ThatDoesNotRead_OrIsAnotherRuns_IsInvalid_NotDone()
    {
        var sweep = Planned(SweepPlanner.Grid(Small, "seed=1,2,3"));
        var plan = sweep.ReadPlan();
        WriteResults(sweep, plan.Runs[0], plan.Runs[0].Options);                                                      // its own: done
        WriteResults(sweep, plan.Runs[1], plan.Runs[1].Options with { Train = plan.Runs[1].Options.Train with { Epochs = 1 } });   // planned again with other epochs
        Directory.CreateDirectory(sweep.Run(plan.Runs[2]).Path);
        File.WriteAllText(sweep.Run(plan.Runs[2]).Results, "{\"test_nll_k5000\": \"x\"}");                        // corrupt

        var states = sweep.States(plan, DateTime.UtcNow);
        Assert.That(states.Select(s => s.Status), Is.EqualTo(new[] { SweepRunStatus.Done, SweepRunStatus.Invalid, SweepRunStatus.Invalid }));
        Assert.That(states[0].Detail, Is.EqualTo("test NLL 40.50"));
        Assert.That(states[1].Detail, Does.Contain(sweep.Run(plan.Runs[1]).Results).And.Contain("train.epochs is 1 there, 3 in sweep.json"));
        Assert.That(states[2].Detail, Does.Contain(sweep.Run(plan.Runs[2]).Results).And.Contain("not a valid results.json"));
        var rows = SweepResults.Collect(sweep);
        Assert.That(rows[1].TestNll, Is.Null, "another run's figures are not this run's");
        Assert.That(SweepResults.Csv(rows).Split('\n')[2], Does.StartWith("1,s2,invalid,"));
    }

    /// <summary>
    /// A sweep.json written when the thread count was part of the training options still reads, and its runs are the
    /// same runs: their results (written on any thread count) are theirs, and planning them again changes nothing.
    /// </summary>
    [Test]
    public void AnOlderSweepJson_WithThreadsInItsOptions_ReadsAsTheSameRuns()
    {
        var planned = SweepPlanner.Grid(Small, "seed=1,2");
        var sweep = Planned(planned);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(sweep.Plan))!;
        foreach (var run in json["runs"]!.AsArray())
        {
            run!["options"]!["train"]!["threads"] = 4;
            run["options"]!["train"]!["adaptive_threads"] = false;
        }
        File.WriteAllText(sweep.Plan, json.ToJsonString());
        var plan = sweep.ReadPlan();
        Assert.That(plan.ToJson(), Is.EqualTo(planned.ToJson()), "the same plan, read without them");
        Assert.That(() => sweep.WritePlan(planned), Throws.Nothing, "planning it again is no change");
        WriteResults(sweep, plan.Runs[0], plan.Runs[0].Options);
        Assert.That(sweep.State(plan.Runs[0], DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Done));
    }

    [Test]
    public void OnlyEpochRecords_CountAsEpochs_EachOnce()
    {
        var sweep = Planned(new SweepPlan { Runs = [new SweepRun(0, "r", Small)] });
        var run = sweep.ReadPlan().Runs[0];
        var folder = sweep.Run(run).Create();
        string Line(int epoch, double bound) => IwaeJson.Serialize(new EpochMetrics(epoch, 1, 1e-3, bound, 0.5, 20));
        File.WriteAllLines(folder.Metrics("iwae"), [Line(1, -200), Line(2, -190), "{\"garbage\":1}", "xx", "", "{}", Line(2, -189), "{\"epoch\":3,\"stage\""]);
        var state = sweep.State(run, DateTime.UtcNow);
        Assert.That(state.EpochsDone, Is.EqualTo(2), "a garbage line, an empty record and a torn line are not epochs; epoch 2 written twice is one");
        Assert.That(state.LastBound, Is.EqualTo(-189));
        Assert.That(sweep.Epochs(run).Select(e => e.Epoch), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void ATaskThatDiedBeforeItsRunStarted_IsFailed_WithItsLogsLastLine()
    {
        var sweep = Planned(SweepPlanner.Grid(Small, "seed=1,2,3"));
        var plan = sweep.ReadPlan();
        var now = DateTime.UtcNow;
        string err = Path.Combine(sweep.LogsPath, "8123_1.err");
        File.WriteAllText(err, "iwae sweep: task 1 of job 8123 on node-3, restart 0\n/var/spool/slurmd/job8124/slurm_script: line 64: iwae: command not found\n\n");
        File.WriteAllText(Path.Combine(sweep.LogsPath, "8123_1.out"), "");
        File.SetLastWriteTimeUtc(err, now - TimeSpan.FromMinutes(5));
        File.WriteAllText(Path.Combine(sweep.LogsPath, "8123_11.err"), "another task's log\n");    // task 11, not 1
        File.SetLastWriteTimeUtc(Path.Combine(sweep.LogsPath, "8123_11.err"), now - TimeSpan.FromMinutes(5));
        string starting = Path.Combine(sweep.LogsPath, "8123_2.err");
        File.WriteAllText(starting, "iwae sweep: task 2 of job 8123 on node-4, restart 0\n");   // just started: its run takes the lock in a moment

        var states = sweep.States(plan, now);
        Assert.That(states.Select(s => s.Status), Is.EqualTo(new[] { SweepRunStatus.Pending, SweepRunStatus.Failed, SweepRunStatus.Pending }));
        Assert.That(states[1].Detail, Does.Contain("iwae: command not found").And.Contain("8123_1.err").And.Contain("died before the run started"));

        // Once the run has files of its own, its log says nothing about whether it started.
        sweep.Run(plan.Runs[1]).Create();
        File.WriteAllText(sweep.Run(plan.Runs[1]).Checkpoint("iwae"), "");
        Assert.That(sweep.State(plan.Runs[1], now).Status, Is.EqualTo(SweepRunStatus.Interrupted));
    }

    [Test]
    public void Collect_ShowsTheDatasArchitecture_AndAVaesGradientAsTheElbo()
    {
        var sweep = Planned(SweepPlanner.Grid(Small, "model=vae,iwae"));
        var plan = sweep.ReadPlan();
        WriteResults(sweep, plan.Runs[0], plan.Runs[0].Options);
        var rows = SweepResults.Collect(sweep);
        Assert.That(rows[0].Architecture, Is.EqualTo("64-8-2"), "as the run trained it, on 64-value data");
        Assert.That(rows.Select(r => r.Estimator), Is.EqualTo(new[] { "elbo", "iwae" }));
        Assert.That(SweepResults.EstimatorName(Small with { Config = Small.Config with { Model = ModelKind.Vae }, Train = Small.Train with { Estimator = GradientEstimator.Stl } }),
            Is.EqualTo("stl"));
    }

    [Test]
    public void Labels_NameWhatVaries()
    {
        Assert.That(SweepResults.Labels([.. SweepPlanner.Grid(Small, "k=1,5,50").Runs.Select(r => r.Options)]), Is.EqualTo(new[] { "k=1", "k=5", "k=50" }));
        Assert.That(SweepResults.Labels([.. SweepPlanner.Grid(Small, "hidden=16x1,32x1;estimator=iwae,dreg").Runs.Select(r => r.Options)]),
            Is.EqualTo(new[] { "784-16-2 iwae", "784-16-2 dreg", "784-32-2 iwae", "784-32-2 dreg" }));
        Assert.That(SweepResults.Labels([.. SweepPlanner.Grid(Small, "seed=1,2").Runs.Select(r => r.Options)]), Is.EqualTo(new[] { "seed=1", "seed=2" }));
        Assert.That(SweepResults.Labels([Small]), Is.EqualTo(new[] { "784-8-2" }));
    }
}
