using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// MIWAE(M, K) (Rainforth et al. 2018, "Tighter variational bounds are not necessarily better"): the k = M K samples
/// form M groups of K, and the objective is the mean of the M IWAE bounds,
///     (1/M) sum_m log (1/K) sum_j w_mj.
/// M = 1 is the IWAE, K = 1 the VAE; in between the encoder's gradient keeps a better signal-to-noise ratio.
/// </summary>
public sealed class MiwaeEstimator<T> : GroupedEstimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>MIWAE with <paramref name="groups"/> groups.</summary>
    public MiwaeEstimator(int groups) : base(groups) { }

    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Miwae;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var logW = model.LogWeights(t, x, k, rng);
        return (GroupedLoss(t, model, logW, Groups), logW);
    }

    /// <summary>
    /// The MIWAE surrogate of log-weights [k,B] in <paramref name="groups"/> groups. Group m holds samples m, m+M, m+2M, ...
    /// (the samples are i.i.d., so any fixed split will do), which makes the [k,B] log-weights, seen as [K, M*B], one
    /// column per (group, input): each column is an IWAE bound of its own, and the IWAE loss of that view, a mean over
    /// the M*B columns, is minus the mean over inputs of the mean over groups.
    /// </summary>
    internal static Var<T> GroupedLoss(Tape<T> t, Iwae<T> model, Var<T> logW, int groups)
        => model.Loss(t, t.Reshape(logW, logW.Rows / groups, groups * logW.Cols));
}
