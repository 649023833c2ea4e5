using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// CIWAE (Rainforth et al. 2018): a convex combination of the VAE's and the IWAE's bounds on the same k samples,
///     beta ELBO + (1 - beta) L_k,   ELBO = (1/k) sum_s log w_s.
/// beta = 1 is the VAE, beta = 0 the IWAE.
/// </summary>
public sealed class CiwaeEstimator<T> : Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>beta, the weight on the ELBO, in [0, 1].</summary>
    public double Beta { get; }

    /// <summary>CIWAE with weight <paramref name="beta"/> on the ELBO.</summary>
    public CiwaeEstimator(double beta)
    {
        Beta = Limits.CheckBeta(beta);
    }

    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Ciwae;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var logW = model.LogWeights(t, x, k, rng);
        var negElbo = t.Neg(t.Mean(logW));                                          // -mean_b (1/k) sum_s log w_bs
        var loss = t.Add(t.Scale(negElbo, T.CreateTruncating(Beta)), t.Scale(model.Loss(t, logW), T.CreateTruncating(1 - Beta)));
        return (loss, logW);
    }
}
