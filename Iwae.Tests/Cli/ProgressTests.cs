using Iwae.Cli;
using Iwae.Experiments;

namespace Iwae.Tests.Cli;

/// <summary>The plain progress lines (what CI and pipes see) and the rate/ETA meter, on a fake clock.</summary>
public class ProgressTests
{
    private static RunProgress Train(long done, long total = 1000, int epoch = 3)
        => new("vae", RunPhase.Train, 2, epoch, 40, 0.00072, done, total, -101.234);

    [Test]
    public void Meter_RateAndEta_FromTheClock()
    {
        double now = 0;
        var meter = new ProgressMeter(() => now);
        Assert.That(double.IsNaN(meter.Update(Train(0)).Rate), "no rate before half a second");
        now = 2;
        var (rate, eta) = meter.Update(Train(200));
        Assert.That(rate, Is.EqualTo(100).Within(1e-9));
        Assert.That(eta, Is.EqualTo(TimeSpan.FromSeconds(8)));
    }

    [Test]
    public void Meter_NewPhase_StartsANewWindow()
    {
        double now = 0;
        var meter = new ProgressMeter(() => now);
        meter.Update(Train(0));
        now = 10;
        meter.Update(Train(100));
        now = 11;
        var eval = new RunProgress("vae", RunPhase.StageEval, 2, 4, 40, double.NaN, 10, 500, double.NaN);
        Assert.That(double.IsNaN(meter.Update(eval).Rate), "the evaluation's rate is not the training's");
        now = 13;
        Assert.That(meter.Update(eval with { Done = 110 }).Rate, Is.EqualTo(50).Within(1e-9));
    }

    [Test]
    public void Plain_LogLinesPassThrough_StatusAtMostEveryInterval()
    {
        double now = 0;
        var output = new StringWriter();
        var view = new PlainProgress(output, TimeSpan.FromSeconds(20), () => now);
        Assert.That(view.Run(() => 7), Is.EqualTo(7));
        view.Log("vae stage 1 epoch 1/40");
        for (int i = 0; i <= 100; i++)
        {
            now = i * 0.5;            // 50 seconds, 10 steps a second
            view.Report(Train(i * 5));
        }
        var lines = output.ToString().TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.That(lines[0], Is.EqualTo("vae stage 1 epoch 1/40"));
        Assert.That(lines, Has.Length.EqualTo(3), "status at 20 s and 40 s");
        Assert.That(lines[1], Is.EqualTo("  vae: training, stage 2, epoch 3/40, lr 0.00072, bound -101.23, 10.0 steps/s, 20%, ETA 1m20s"));
    }

    [Test]
    public void Plain_EvaluationStatus_CountsImages()
        => Assert.That(PlainProgress.Status(new RunProgress("iwae", RunPhase.Eval, 0, 0, 0, double.NaN, 600, 1996, double.NaN), 12, TimeSpan.FromSeconds(116.3)),
            Is.EqualTo("  iwae: final evaluation, 600/1996 images, 12.0 images/s, 30%, ETA 1m56s"));

    [TestCase(0.2, "1s")]
    [TestCase(59, "59s")]
    [TestCase(125, "2m05s")]
    [TestCase(3725, "1h02m")]
    public void Durations(double seconds, string text) => Assert.That(ProgressView.FormatDuration(TimeSpan.FromSeconds(seconds)), Is.EqualTo(text));

    [Test]
    public void ForAStringWriter_IsPlain() => Assert.That(ProgressView.For(new StringWriter()), Is.InstanceOf<PlainProgress>());
}
