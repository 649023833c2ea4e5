using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core.Training;

/// <summary>
/// Per-example scores: L_k the same bits as <see cref="Evaluation.LogLikelihoods(Iwae{float}, Tensor{float}, int, ulong, int, Execution?)"/>,
/// rows in order, and a standard error that is the delta method's, computed stably, shrinking like 1/sqrt(k) and
/// matching the spread of L_k over independent draws.
/// </summary>
public class ScoringTests
{
    private static Iwae<float> _model = null!;
    private static Tensor<float> _x;

    [OneTimeSetUp]
    public void Train()
    {
        // 45 rows: two full groups of 20 and a partial one.
        (_, _, _model, _x) = SmallModels.Trained(SmallModels.Config(1), epochs: 20, inputs: 45, seed: 3);
    }

    private static (int[] Rows, double[] LogPx, double[] StdErr) Score(int k, ulong seed = 42, int threads = 1, Tensor<float>? x = null)
    {
        x ??= _x;
        var (rows, logPx, se) = (new List<int>(), new List<double>(), new List<double>());
        Scoring.Score(_model, x.Value, k, (i, l, s) => { rows.Add(i); logPx.Add(l); se.Add(s); }, seed, execution: Threads(threads));
        return (rows.ToArray(), logPx.ToArray(), se.ToArray());
    }

    [TestCase(1, 1)]
    [TestCase(7, 2)]
    [TestCase(120, 3)]
    public void Scores_AreEvaluationsLogLikelihoods_BitForBit_InRowOrder(int k, int threads)
    {
        var (rows, logPx, _) = Score(k, seed: 5, threads: threads);
        Assert.That(rows, Is.EqualTo(Enumerable.Range(0, _x.Rows)));
        var expected = Evaluation.LogLikelihoods(_model, _x, k, seed: 5, execution: Threads(1));
        Assert.That(logPx.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(expected.Select(BitConverter.DoubleToInt64Bits)));
    }

    [Test]
    public void StandardError_IsNaNAtKOne_AndTheSameOnAnyThreadCount()
    {
        Assert.That(Score(1).StdErr, Has.All.NaN);
        Assert.That(Score(60, threads: 3).StdErr, Is.EqualTo(Score(60, threads: 1).StdErr));
    }

    [Test]
    public void StandardError_ShrinksLikeOneOverSqrtK()
    {
        double small = Score(100).StdErr.Average(), large = Score(1600).StdErr.Average();
        Assert.That(small / large, Is.InRange(3.5, 4.5), $"se at k=100 {small}, at k=1600 {large}: sqrt(16) = 4 expected");
    }

    [Test]
    public void StandardError_MatchesTheSpreadOfLkOverIndependentDraws()
    {
        const int k = 50, draws = 300;
        var one = _x.RowSlice(0, 1);
        var estimates = new double[draws];
        double se = 0;
        for (int d = 0; d < draws; d++)
        {
            var s = Score(k, seed: 1000 + (ulong)d, x: one);
            estimates[d] = s.LogPx[0];
            se += s.StdErr[0] / draws;
        }
        double mean = estimates.Average(), sd = Math.Sqrt(estimates.Sum(e => (e - mean) * (e - mean)) / (draws - 1));
        Assert.That(se / sd, Is.InRange(0.8, 1.25), $"mean standard error {se}, spread of L_{k} over {draws} draws {sd}");
    }

    [TestCase(0.0)]
    [TestCase(-5000.0)]
    [TestCase(800.0)]
    public void StandardError_IsTheDeltaMethods_EvenWhereExpOfTheLogWeightsOverflows(double offset)
    {
        var rng = new Rng(11);
        foreach (int k in new[] { 2, 3, 17, 400 })
        {
            var logW = Enumerable.Range(0, k).Select(_ => offset + 3 * (rng.NextDouble() - 0.5)).ToArray();
            // Direct: weights relative to the largest (the ratio se = sqrt(var/k)/mean does not depend on the scale).
            double max = logW.Max();
            var w = logW.Select(l => Math.Exp(l - max)).ToArray();
            double m = w.Average(), v = w.Sum(x => (x - m) * (x - m)) / (k - 1);
            double direct = Math.Sqrt(v / k) / m;

            double logMeanW = LogSumExp(logW) - Math.Log(k), logMeanW2 = LogSumExp(logW.Select(l => 2 * l)) - Math.Log(k);
            Assert.That(Scoring.StandardError(logMeanW, logMeanW2, k), Is.EqualTo(direct).Within(1e-7).Percent, $"k={k}");
        }
        Assert.That(Scoring.StandardError(offset, 2 * offset, 10), Is.Zero, "equal weights");
    }

    [Test]
    public void AnExceptionFromOnRow_StopsTheScoring()
    {
        // One thread per group, and the sink waits before it fails, so the other threads have finished their groups and
        // are waiting to report them as the exception leaves: a sink that failed must never be called again (this race
        // once let a second thread report rows 4-39).
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int calls = 0;
            Assert.Throws<IOException>(() => Scoring.Score(_model, _x, 2, (i, _, _) =>
            {
                calls++;
                if (i != 3) return;
                Thread.Sleep(20);
                throw new IOException("disk full");
            }, execution: Threads(3)));
            Assert.That(calls, Is.EqualTo(4), $"attempt {attempt}");
        }
    }

    private static double LogSumExp(IEnumerable<double> values)
    {
        var a = values.ToArray();
        double max = a.Max();
        return max + Math.Log(a.Sum(v => Math.Exp(v - max)));
    }
}
