using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// Sticking the landing (Roeder, Wu and Duvenaud 2017): the total derivative of log w with respect to phi is a path
/// term through z plus the score term d/dphi log q_phi(z|x) at fixed z, whose expectation is zero; STL drops the
/// score term, so log q sees the variational parameters through StopGradient while z keeps its reparameterised path:
///     grad_phi ~ sum_s w~_s  d log w_s / d z_s  d z_s / d phi.
/// Its variance vanishes as q approaches the posterior. For k = 1 it is unbiased; for k &gt; 1 the dropped term
/// sum_s w~_s d/dphi log q(z_s|x) no longer has expectation zero, because w~_s depends on z_s: STL is then biased
/// (Tucker et al. 2019). The decoder's gradient is the IWAE's.
/// </summary>
public sealed class StlEstimator<T> : Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Stl;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var s = model.Sample(t, x, k, rng);
        var logW = model.LogWeights(t, x, s, GradientPaths.Path | GradientPaths.Generative);
        return (model.Loss(t, logW), logW);
    }

    /// <inheritdoc />
    public override void Validate(ModelConfig config) { }
}
