using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Training;

/// <summary>
/// Per-example scores: the estimate L_k = log (1/k) sum_s w_s of log p(x) for each row, exactly as
/// <see cref="Evaluation.LogLikelihoods(Iwae{float}, Tensor{float}, int, ulong, int, Execution?)"/>
/// computes it (same groups, noise and sums), with its Monte Carlo standard error.
/// <para>
/// The standard error is the delta method's: with the sample mean m = (1/k) sum w_s and the unbiased sample variance
/// v = (1/(k-1)) sum (w_s - m)^2 of the k weights, se(log m) = sqrt(v / k) / m. Divided through by m^2 this is
///     se^2 = (exp(log (1/k) sum w_s^2 - 2 L_k) - 1) / (k - 1),
/// where the exponent, log of (mean w^2) / (mean w)^2 = k / ESS, lies in [0, log k]: both logs come from running
/// logsumexps (of log w and of 2 log w), and no raw log-weight is exponentiated.
/// </para>
/// </summary>
public static class Scoring
{
    /// <summary>
    /// Scores each row of <paramref name="x"/> [N,D] with <paramref name="k"/> samples and calls
    /// <paramref name="onRow"/>(row, L_k, standard error) for every row in order, as soon as the rows before it are done
    /// (one call at a time, from whichever evaluation thread finished a group). The L_k are bit-identical to
    /// <see cref="Evaluation.LogLikelihoods(Iwae{float}, Tensor{float}, int, ulong, int, Execution?)"/>
    /// at the same <paramref name="seed"/> and k; the standard error is NaN at k = 1. <paramref name="execution"/> (threads,
    /// cancellation, progress) as there. An exception from <paramref name="onRow"/> stops the scoring and is rethrown.
    /// </summary>
    public static void Score(Iwae<float> model, Tensor<float> x, int k, Action<int, double, double> onRow, ulong seed = 42,
        Execution? execution = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(onRow);
        var logPx = new double[x.Rows];
        var logMeanW2 = new double[x.Rows];
        var finished = new bool[x.Rows];
        int next = 0;
        Evaluation.RunGroups(model, x, k, seed, Evaluation.SamplesPerChunk, execution, logPx, logMeanW2, (g0, b) =>
        {
            finished.AsSpan(g0, b).Fill(true);
            while (next < x.Rows && finished[next])
            {
                int i = next++;        // moved on first: a row whose sink threw is never reported twice
                onRow(i, logPx[i], StandardError(logPx[i], logMeanW2[i], k));
            }
        });
    }

    /// <summary>
    /// The delta method's standard error of L_k = <paramref name="logMeanW"/> from k weights whose
    /// log (1/k) sum w_s^2 is <paramref name="logMeanW2"/> (see the class summary); NaN for k = 1, where the
    /// variance cannot be estimated, and 0 when all weights are equal.
    /// </summary>
    public static double StandardError(double logMeanW, double logMeanW2, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (k == 1) return double.NaN;
        // (mean w^2) / (mean w)^2 >= 1; rounding can take it just below, where the variance is 0.
        double ratio = Math.Exp(logMeanW2 - 2 * logMeanW);
        return Math.Sqrt(Math.Max(0, ratio - 1) / (k - 1));
    }
}
