using Iwae.Cli;
using Iwae.Core.Sweeps;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `iwae sweep` end to end on the embedded data: the Table 1 preset at one stage with small layers, planned (with its
/// time estimate), run here, followed and collected into the paper's layout; and the one-line errors.
/// </summary>
[NonParallelizable]
public class SweepCliTests : TempDirTests
{
    protected override bool CreateDir => false;


    [Test]
    public void Table1Preset_PlanRunAllAndCollect_OnTheEmbeddedData_RendersTheTable()
    {
        var (code, output, err) = Run("sweep", "plan", "--preset", "burda-table1", "--stages", "1", "--hidden", "16", "--latent", "4",
            "--eval-k", "20", "--threads", "2", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Contain("sweep: 12 runs").And.Contain("l2-iwae-k50").And.Contain("total: ~"));
        Assert.That(output, Does.Match(@"l1-iwae-k50 +784-16-4 k=50 1 epochs +~"), "each run's estimate");

        var (c1, s1, _) = Run("sweep", "status", Dir);
        Assert.That(c1, Is.Zero);
        Assert.That(s1, Does.Contain("12 pending"));

        var (c2, o2, e2) = Run("sweep", "run", Dir, "--all", "--parallel", "2", "--threads", "1");
        Assert.That(c2, Is.Zero, e2 + o2);
        Assert.That(o2, Does.Contain("12 of 12 runs done, 0 failed"));

        var (c3, o3, e3) = Run("sweep", "collect", Dir);
        Assert.That(c3, Is.Zero, e3);
        TestContext.Out.WriteLine(o3);
        Assert.That(o3, Does.Match(@"\s+2\s+50\s+\d+\.\d\d\s+\d+\.\d\d\s+-\s+-"), "the layers = 2, k = 50 row, ours (the paper's are for full MNIST)");
        string html = File.ReadAllText(Path.Combine(Dir, SweepFolder.ReportFile));
        Assert.That(html, Does.Contain("Table 1 (Burda et al. 2016)").And.Contain("<th>layers</th><th>k</th><th>VAE</th><th>IWAE</th>"));
        Assert.That(File.ReadAllLines(Path.Combine(Dir, SweepFolder.ResultsCsvFile)), Has.Length.EqualTo(13));

        var (c4, s4, _) = Run("sweep", "status", Dir);
        Assert.That(c4, Is.Zero);
        Assert.That(s4, Does.Contain("12 done"));
        var (c5, o5, _) = Run("sweep", "run", Dir, "--task", "3");
        Assert.That(c5, Is.Zero);
        Assert.That(o5, Does.Contain("l1-iwae-k1: done already"));
    }

    [TestCase(new[] { "sweep", "plan", "--out", "X" }, "give exactly one of --preset, --grid and --shapes")]
    [TestCase(new[] { "sweep", "plan", "--preset", "table9", "--out", "X" }, "--preset must be burda-table1, got 'table9'")]
    [TestCase(new[] { "sweep", "plan", "--grid", "k=0", "--no-estimate", "--out", "X" }, "--grid: k=0")]
    [TestCase(new[] { "sweep", "run", "X", "--task", "0" }, "sweep.json: file not found (not a sweep folder")]
    [TestCase(new[] { "sweep", "status", "X" }, "sweep.json: file not found")]
    public void BadInput_IsOneLine_NothingWritten(string[] args, string message)
    {
        var (code, _, err) = Run([.. args.Select(a => a == "X" ? Dir : a)]);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), err);
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(Directory.Exists(Dir), Is.False);
    }

    [Test]
    public void SlurmAndK8s_WriteTheirFilesIntoTheSweepFolder()
    {
        Assert.That(Run("sweep", "plan", "--grid", "seed=1,2,3", "--epochs", "1", "--hidden", "8", "--latent", "2", "--no-estimate", "--out", Dir).Code, Is.Zero);
        var (c1, o1, e1) = Run("sweep", "slurm", Dir, "--cpus", "4", "--time", "1-06:00:00", "--max-concurrent", "2", "--command", "dotnet /opt/iwae/iwae.dll");
        Assert.That(c1, Is.Zero, e1);
        Assert.That(o1, Does.Contain("sbatch"));
        string sbatch = File.ReadAllText(Path.Combine(Dir, SweepFolder.SbatchFile));
        Assert.That(sbatch, Does.Contain("#SBATCH --array=0-2%2").And.Contain("#SBATCH --cpus-per-task=4").And.Contain("#SBATCH --time=1-06:00:00")
            .And.Contain("#SBATCH --requeue").And.Contain("dotnet /opt/iwae/iwae.dll"));

        var (c2, _, e2) = Run("sweep", "k8s", Dir, "--image", "registry.example.org/iwae:0.1.0", "--claim", "sweeps", "--cpus", "3");
        Assert.That(c2, Is.Zero, e2);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, SweepFolder.KubernetesFile)));
        var spec = doc.RootElement.GetProperty("spec");
        Assert.That(spec.GetProperty("completionMode").GetString(), Is.EqualTo("Indexed"));
        Assert.That(spec.GetProperty("completions").GetInt32(), Is.EqualTo(3));
        var container = spec.GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        Assert.That(container.GetProperty("image").GetString(), Is.EqualTo("registry.example.org/iwae:0.1.0"));
        Assert.That(string.Join(" ", container.GetProperty("args").EnumerateArray().Select(a => a.GetString())), Is.EqualTo("sweep run /sweep --threads 3"));

        var (c3, _, e3) = Run("sweep", "k8s", Dir, "--claim", "sweeps");
        Assert.That(c3, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e3, Does.Contain("--image: give the container image"));
        var (c4, _, e4) = Run("sweep", "slurm", Dir, "--time", "forever");
        Assert.That(c4, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e4, Does.Contain("--time must be HH:MM:SS or D-HH:MM:SS"));
    }

    [TestCase("90", 0, 1, 30, 0)]
    [TestCase("01:30:00", 0, 1, 30, 0)]
    [TestCase("45:10", 0, 0, 45, 10)]
    [TestCase("2-12", 2, 12, 0, 0)]
    [TestCase("1-06:00:00", 1, 6, 0, 0)]
    public void SlurmTime_ReadsSbatchsFormats(string text, int d, int h, int m, int s)
        => Assert.That(Iwae.Cli.Commands.SweepCommand.ParseSlurmTime(text), Is.EqualTo(new TimeSpan(d, h, m, s)));

    [Test]
    public void Run_WithoutATask_SaysWhereOneComesFrom()
    {
        Assert.That(Run("sweep", "plan", "--grid", "seed=1,2", "--epochs", "1", "--hidden", "8", "--latent", "2", "--no-estimate", "--out", Dir).Code, Is.Zero);
        var (code, _, err) = Run("sweep", "run", Dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain("give --task N (or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all"));
        var (c2, _, e2) = Run("sweep", "run", Dir, "--task", "2");
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e2, Does.Contain("task 2 is not a run of").And.Contain("which has runs 0..1"));
    }
}
