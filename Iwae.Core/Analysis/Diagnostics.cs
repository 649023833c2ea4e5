using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Estimators;
using Iwae.Core.Models;

namespace Iwae.Core.Analysis;

/// <summary>Signal-to-noise ratios of a gradient estimator, averaged over the parameters of each network.</summary>
/// <param name="Encoder">Mean over the inference network's parameters of |E[g]| / std[g].</param>
/// <param name="Decoder">The same over the generative model's parameters.</param>
/// <param name="K">Samples per input.</param>
/// <param name="Draws">Independent gradient draws the moments come from.</param>
/// <param name="EncoderNorm">The inference network's gradient as one vector: ||E[g]|| / sqrt(E ||g - E g||^2).</param>
/// <param name="DecoderNorm">The same for the generative model.</param>
/// <param name="EffectiveSampleSize">Mean over draws and inputs of (sum w)^2 / sum w^2 of the estimator's importance weights.</param>
public sealed record GradientSnrResult(double Encoder, double Decoder, int K, int Draws, double EncoderNorm = double.NaN, double DecoderNorm = double.NaN,
    double EffectiveSampleSize = double.NaN);

/// <summary>One point of <see cref="Diagnostics.SnrSweep"/>: an estimator's gradient SNR at one k.</summary>
/// <param name="Estimator">The estimator's name (e.g. "iwae", "dreg").</param>
/// <param name="K">Samples per input.</param>
/// <param name="Encoder">Mean SNR over the inference network's parameters.</param>
/// <param name="Decoder">Mean SNR over the generative model's parameters.</param>
/// <param name="EncoderNorm">The encoder's gradient taken as one vector: ||E g|| / sqrt(total variance).</param>
/// <param name="DecoderNorm">The same for the decoder.</param>
/// <param name="EffectiveSampleSize">Mean effective sample size of the importance weights, between 1 and k.</param>
public sealed record SnrPoint(string Estimator, int K, double Encoder, double Decoder, double EncoderNorm, double DecoderNorm, double EffectiveSampleSize);

/// <summary>Gradient diagnostics.</summary>
public static class Diagnostics
{
    /// <summary>
    /// <see cref="GradientSnr{T}"/> for every estimator in <paramref name="estimators"/> at every k in <paramref name="ks"/>
    /// (Rainforth et al. 2018, figure 2): the same model, data and draw seed throughout. MIWAE and PIWAE skip the k
    /// that <paramref name="groups"/> does not divide. <paramref name="onPoint"/> sees each point as it is done; the
    /// gradients run on <paramref name="execution"/>, whose cancellation is checked before every gradient draw.
    /// </summary>
    public static IReadOnlyList<SnrPoint> SnrSweep(Iwae<float> model, Tensor<float> x, IReadOnlyList<int> ks,
        IReadOnlyList<GradientEstimator> estimators, int draws, int groups = 1, ulong seed = 1, Action<SnrPoint>? onPoint = null,
        Execution? execution = null)
    {
        var points = new List<SnrPoint>();
        foreach (var kind in estimators)
            foreach (int k in ks)
            {
                if (kind is GradientEstimator.Miwae or GradientEstimator.Piwae && k % groups != 0) continue;
                var estimator = Estimator<float>.Create(kind, groups);
                var r = GradientSnr(model, x, k, draws, estimator, seed, execution);
                var point = new SnrPoint(estimator.Name, k, r.Encoder, r.Decoder, r.EncoderNorm, r.DecoderNorm, r.EffectiveSampleSize);
                points.Add(point);
                onPoint?.Invoke(point);
            }
        return points;
    }

    /// <summary>
    /// The signal-to-noise ratio of <paramref name="estimator"/>'s gradient at the model's current weights, as
    /// Rainforth et al. (2018) define it: for each parameter, SNR = |E[g]| / std[g] over <paramref name="draws"/>
    /// independent draws of the k samples (data and weights fixed), then averaged over the encoder's and over the
    /// decoder's parameters. Parameters whose gradient never varies are left out. g is the gradient of the surrogate
    /// loss on the whole of x [B,D]. The parameters' gradients are overwritten. The gradients run on <paramref name="execution"/>,
    /// whose cancellation is checked before every draw.
    /// </summary>
    /// <remarks>For the IWAE the encoder's SNR falls like O(1/sqrt(k)) while the decoder's rises like O(sqrt(k));
    /// DReG's encoder SNR rises like O(sqrt(k)) where the weights stay nearly equal (Tucker et al. 2019; see
    /// <see cref="LinearGaussianToy"/>).</remarks>
    public static GradientSnrResult GradientSnr<T>(Iwae<T> model, Tensor<T> x, int k, int draws, Estimator<T> estimator, ulong seed = 1,
        Execution? execution = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(draws, 2);
        estimator.Validate(model.Config with { K = k });
        var ps = model.Parameters;
        var mean = new double[ps.Count][];
        var m2 = new double[ps.Count][];
        for (int p = 0; p < ps.Count; p++) { mean[p] = new double[ps[p].Value.Length]; m2[p] = new double[ps[p].Value.Length]; }
        var rng = new Rng(seed);
        var t = new Tape<T>(execution);
        double essSum = 0;
        for (int d = 1; d <= draws; d++)
        {
            t.Execution.Cancellation.ThrowIfCancellationRequested();
            t.Reset();
            ps.ZeroGrad();
            var (loss, logW) = estimator.Surrogate(t, model, t.Constant(x), k, rng);
            essSum += MeanEffectiveSampleSize(logW.Value);
            t.Backward(loss);
            for (int p = 0; p < ps.Count; p++)
            {
                var g = ps[p].Grad.Span;
                for (int i = 0; i < g.Length; i++)
                {
                    // Welford's update: one pass, no catastrophic cancellation when the mean dwarfs the spread.
                    double v = double.CreateTruncating(g[i]), delta = v - mean[p][i];
                    mean[p][i] += delta / d;
                    m2[p][i] += delta * (v - mean[p][i]);
                }
            }
        }
        t.Reset();
        (double Mean, double Norm) Average(IReadOnlyList<Parameter<T>> subset)
        {
            double sum = 0, signal = 0, noise = 0;
            long count = 0;
            foreach (var q in subset)
            {
                int p = IndexOf(ps, q);
                for (int i = 0; i < mean[p].Length; i++)
                {
                    double variance = m2[p][i] / (draws - 1), sd = Math.Sqrt(variance);
                    if (sd > 0) { sum += Math.Abs(mean[p][i]) / sd; count++; }
                    signal += mean[p][i] * mean[p][i];
                    noise += variance;
                }
            }
            return (count == 0 ? double.NaN : sum / count, noise > 0 ? Math.Sqrt(signal / noise) : double.NaN);
        }
        var (enc, encNorm) = Average(model.EncoderParameters);
        var (dec, decNorm) = Average(model.DecoderParameters);
        return new GradientSnrResult(enc, dec, k, draws, encNorm, decNorm, essSum / draws);
    }

    /// <summary>
    /// The effective sample size (sum_s w_s)^2 / sum_s w_s^2 of the importance weights in each column of
    /// <paramref name="logW"/> [k,B], averaged over the columns: 1 when one sample carries all the weight, k when
    /// the weights are equal. Computed from the log-weights with the column's maximum subtracted.
    /// </summary>
    public static double MeanEffectiveSampleSize<T>(Tensor<T> logW) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        for (int b = 0; b < logW.Cols; b++)
        {
            double max = double.NegativeInfinity;
            for (int s = 0; s < logW.Rows; s++) max = Math.Max(max, double.CreateTruncating(logW[s, b]));
            double sum = 0, sumSq = 0;
            for (int s = 0; s < logW.Rows; s++)
            {
                double w = Math.Exp(double.CreateTruncating(logW[s, b]) - max);
                sum += w;
                sumSq += w * w;
            }
            total += sum * sum / sumSq;
        }
        return total / logW.Cols;
    }

    private static int IndexOf<T>(IReadOnlyList<Parameter<T>> ps, Parameter<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < ps.Count; i++)
            if (ReferenceEquals(ps[i], p)) return i;
        throw new InvalidOperationException($"{p.Name} is not among the model's parameters");
    }
}
