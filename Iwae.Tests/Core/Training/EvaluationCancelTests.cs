using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Tests.Core.Training;

/// <summary>
/// Every long forward-only computation stops at its next chunk once its execution's token is cancelled (the final and
/// stage evaluations, `eval`, `score`, `sample --posterior`, `snr`), and gives the same bits as before when it is not.
/// </summary>
public class EvaluationCancelTests
{
    private static readonly ModelConfig Small = new() { K = 3, Hidden = [16], Latent = 2 };

    private static (Iwae<float> Model, Tensor<float> X) SmallModel(int images = 45)
    {
        var m = Iwae<float>.Create(Small, new Rng(1));
        var x = Tensor<float>.Zeros(images, 784);
        var rng = new Rng(2);
        foreach (ref float v in x.Span) v = rng.NextDouble() < 0.2 ? 1 : 0;
        return (m, x);
    }

    [Test]
    public void ACancelledToken_StopsEveryForwardOnlyComputation([Values(1, 2)] int threads)
    {
        var (m, x) = SmallModel();
        var c = TestUtil.Threads(threads).WithCancellation(new CancellationToken(canceled: true));
        Assert.That(() => Evaluation.Nll(m, x, 100, execution: c), Throws.InstanceOf<OperationCanceledException>(), "Nll");
        Assert.That(() => Evaluation.Bound(m, x, 5, execution: c), Throws.InstanceOf<OperationCanceledException>(), "Bound");
        Assert.That(() => Evaluation.ActiveUnitsPerLayer(m, x, execution: c), Throws.InstanceOf<OperationCanceledException>(), "ActiveUnits");
        Assert.That(() => Scoring.Score(m, x, 100, (_, _, _) => { }, execution: c), Throws.InstanceOf<OperationCanceledException>(), "Score");
        Assert.That(() => Sampling.PosteriorSamples(m, x.RowSlice(0, 3), 1000, 2, new Rng(3), c), Throws.InstanceOf<OperationCanceledException>(), "PosteriorSamples");
        Assert.That(() => Diagnostics.SnrSweep(m, x.RowSlice(0, 1), [1, 10], [GradientEstimator.Iwae], draws: 10, execution: c),
            Throws.InstanceOf<OperationCanceledException>(), "SnrSweep");
    }

    [Test]
    public void ATokenNotCancelled_ChangesNoBit([Values(1, 2)] int threads)
    {
        var (m, x) = SmallModel();
        using var cts = new CancellationTokenSource();
        var e = TestUtil.Threads(threads);
        var c = e.WithCancellation(cts.Token);
        Assert.That(Evaluation.LogLikelihoods(m, x, 120, execution: c), Is.EqualTo(Evaluation.LogLikelihoods(m, x, 120, execution: e)));
        Assert.That(Evaluation.Bound(m, x, 7, execution: c), Is.EqualTo(Evaluation.Bound(m, x, 7, execution: e)));
        Assert.That(Evaluation.ActiveUnits(m, x, execution: c).Variances, Is.EqualTo(Evaluation.ActiveUnits(m, x, execution: e).Variances));
        Assert.That(Sampling.PosteriorSamples(m, x.RowSlice(0, 3), 700, 2, new Rng(3), c).Z.ToArray(),
            Is.EqualTo(Sampling.PosteriorSamples(m, x.RowSlice(0, 3), 700, 2, new Rng(3), e).Z.ToArray()));
    }

    [Test]
    public void AnEvaluationAtK5000_OfThePapersModel_StopsWellWithinASecondOfTheCancel()
    {
        // 784-200-200-50 on 2 threads: a chunk is 50 samples of 20 images through the decoder, milliseconds of work.
        var m = Iwae<float>.Create(new ModelConfig(), new Rng(4));
        var x = Binarize.Fixed(Tensor<float>.Full(200, 784, 0.3f), 5);
        using var cts = new CancellationTokenSource();
        Stopwatch? sinceCancel = null;
        cts.Token.Register(() => sinceCancel = Stopwatch.StartNew());
        var total = Stopwatch.StartNew();
        cts.CancelAfter(TimeSpan.FromMilliseconds(300));
        Assert.That(() => Evaluation.Nll(m, x, 5000, execution: TestUtil.Threads(2).WithCancellation(cts.Token)), Throws.InstanceOf<OperationCanceledException>());
        TestContext.Out.WriteLine($"cancelled at {total.Elapsed.TotalSeconds - sinceCancel!.Elapsed.TotalSeconds:F2}s, stopped {sinceCancel.Elapsed.TotalMilliseconds:F0} ms later");
        Assert.That(sinceCancel.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
    }
}
