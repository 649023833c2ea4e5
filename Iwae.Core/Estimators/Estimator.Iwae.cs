using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// The IWAE gradient (Burda et al. 2016, eq. 14):  grad L_k = E[ sum_s w~_s grad log w_s ],  every path of log w
/// kept. This is the model's own <see cref="Iwae{T}.Loss"/>, so a <see cref="Vae{T}"/> gets the ELBO's gradient.
/// </summary>
public sealed class IwaeEstimator<T> : Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Iwae;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var logW = model.LogWeights(t, x, k, rng);
        return (model.Loss(t, logW), logW);
    }

    /// <inheritdoc />
    public override void Validate(ModelConfig config) { }
}
