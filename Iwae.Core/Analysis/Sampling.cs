using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Core.Analysis;

/// <summary>Latent draws for each of B inputs, stacked sample-major like everything else: row s*B + b is draw s of input b.</summary>
/// <param name="Z">The latents the decoder reads, [n*B, Z] (h1 with two stochastic layers).</param>
/// <param name="EffectiveSampleSize">Per input, the mean over the n draws of (sum_s w_s)^2 / sum_s w_s^2 of the k proposals: 1 to k, how many proposals carry the weight.</param>
/// <param name="K">Proposals per draw.</param>
public sealed record LatentDraws(Tensor<float> Z, double[] EffectiveSampleSize, int K)
{
    /// <summary>Draws per input.</summary>
    public int N => Z.Rows / EffectiveSampleSize.Length;
}

/// <summary>
/// Samples from the model. <see cref="PosteriorSamples"/> is sampling importance resampling as Cremer, Morris and
/// Duvenaud (2017) read the IWAE: draw k proposals z_1..z_k ~ q(z|x), pick one with probability w~_s = w_s / sum w;
/// the pick follows an implicit distribution q_IW(z|x) that moves from q (k = 1) to the true posterior p(z|x) as k grows,
/// and whose ELBO is at least L_k.
/// </summary>
public static class Sampling
{
    /// <summary>Proposals evaluated together per image.</summary>
    public const int Chunk = 500;

    /// <summary>
    /// n draws from q_IW(z|x) for each row of x [B,D]: each draw takes k fresh proposals from q and resamples one by its
    /// normalised importance weight. k = 1 gives plain samples from q(z|x). Forward only, in chunks of
    /// <see cref="Chunk"/> proposals (a weighted reservoir keeps one pick across chunks, so memory does not grow with k), on
    /// <paramref name="execution"/>'s threads; its cancellation is checked before every chunk.
    /// </summary>
    public static LatentDraws PosteriorSamples(Iwae<float> model, Tensor<float> x, int k, int n, Rng rng, Execution? execution = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        model.Config.CheckInput(x.Cols);
        int bAll = x.Rows, zDim = model.Latent;
        var result = Tensor<float>.Zeros(n * bAll, zDim);
        var ess = new double[bAll];
        var t = new Tape<float>(execution) { NoGrad = true };
        var cancel = t.Execution.Cancellation;
        const int group = Evaluation.ImagesPerGroup;
        var mu = Tensor<float>.Zeros(group, zDim);
        var logSigma = Tensor<float>.Zeros(group, zDim);
        var lse = new double[group];          // log sum_s w_s over the proposals so far
        var lse2 = new double[group];         // log sum_s w_s^2, for the effective sample size
        for (int g0 = 0; g0 < bAll; g0 += group)
        {
            int b = Math.Min(group, bAll - g0);
            var xs = x.RowSlice(g0, b);
            var (muG, lsG) = (mu.RowSlice(0, b), logSigma.RowSlice(0, b));
            t.Reset();
            var (m, s) = model.Encode(t, t.Constant(xs));
            m.Value.Span.CopyTo(muG.Span);
            s.Value.Span.CopyTo(lsG.Span);
            for (int draw = 0; draw < n; draw++)
            {
                Array.Fill(lse, double.NegativeInfinity);
                Array.Fill(lse2, double.NegativeInfinity);
                for (int s0 = 0; s0 < k; s0 += Chunk)
                {
                    cancel.ThrowIfCancellationRequested();
                    int c = Math.Min(Chunk, k - s0);
                    t.Reset();
                    var samples = model.Sample(t, t.Constant(muG), t.Constant(lsG), c, rng);
                    var logW = model.LogWeights(t, t.Constant(xs), samples).Value;          // [c,b]
                    var z = samples.H1.Value;                                             // [c*b,Z]
                    for (int i = 0; i < b; i++)
                    {
                        double chunkLse = double.NegativeInfinity, chunkLse2 = double.NegativeInfinity;
                        for (int j = 0; j < c; j++)
                        {
                            chunkLse = Evaluation.LogAddExp(chunkLse, logW[j, i]);
                            chunkLse2 = Evaluation.LogAddExp(chunkLse2, 2.0 * logW[j, i]);
                        }
                        double total = Evaluation.LogAddExp(lse[i], chunkLse);
                        // The pick moves into this chunk with probability (its weight) / (weight so far): a weighted reservoir.
                        if (!double.IsNegativeInfinity(chunkLse) && rng.NextDouble() < Math.Exp(chunkLse - total))
                        {
                            int j = Categorical(logW, i, c, chunkLse, rng);
                            z.Row(j * b + i).CopyTo(result.Row(draw * bAll + g0 + i));
                        }
                        lse[i] = total;
                        lse2[i] = Evaluation.LogAddExp(lse2[i], chunkLse2);
                    }
                }
                for (int i = 0; i < b; i++) ess[g0 + i] += Math.Exp(2 * lse[i] - lse2[i]) / n;
            }
        }
        t.Reset();
        return new LatentDraws(result, ess, k);
    }

    /// <summary>Row j of column i of logW [c,b] with probability exp(logW[j,i] - lse).</summary>
    private static int Categorical(Tensor<float> logW, int i, int c, double lse, Rng rng)
    {
        double u = rng.NextDouble(), cumulative = 0;
        for (int j = 0; j < c; j++)
        {
            cumulative += Math.Exp(logW[j, i] - lse);
            if (u < cumulative) return j;
        }
        return c - 1;   // u within rounding of 1
    }

    /// <summary>
    /// n draws from the model's prior: z ~ N(0, I), or with two stochastic layers h2 ~ N(0, I) and h1 ~ p(h1|h2).
    /// Returns the latents the decoder reads, [n, Z]; the second layer's decoder runs on <paramref name="execution"/>.
    /// </summary>
    public static Tensor<float> PriorSamples(Iwae<float> model, int n, Rng rng, Execution? execution = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var t = new Tape<float>(execution) { NoGrad = true };
        Tensor<float> z;
        if (model.DecoderH1 is null)
        {
            z = Tensor<float>.Zeros(n, model.Latent);
            rng.FillNormal(z.Span);
            return z;
        }
        var h2 = Tensor<float>.Zeros(n, model.Config.Latent2);
        rng.FillNormal(h2.Span);
        var (mu, logSigma) = model.DecoderH1.Encode(t, t.Constant(h2));
        var eps = Tensor<float>.Zeros(n, model.Latent);
        rng.FillNormal(eps.Span);
        z = t.Add(mu, t.Mul(t.Exp(logSigma), t.Constant(eps))).Value.Clone();
        t.Reset();
        return z;
    }

    /// <summary>E[x|z] for latents z [N,Z] (pixel probabilities for the Bernoulli decoder; in the data's units when the model standardises): [N,D], on <paramref name="execution"/>'s threads.</summary>
    public static Tensor<float> DecoderMeans(Iwae<float> model, Tensor<float> z, Execution? execution = null)
    {
        if (z.Cols != model.Latent) throw new ArgumentException($"latents have {z.Cols} dimensions, the decoder reads {model.Latent}");
        var t = new Tape<float>(execution) { NoGrad = true };
        var mean = model.DecoderMean(t, t.Constant(z)).Value.Clone();
        t.Reset();
        return mean;
    }
}
