using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// Doubly reparameterised gradient (Tucker, Lawson, Gu and Maddison 2019): reparameterising the score term
/// of the IWAE gradient a second time gives, with the same expectation,
///     grad_phi L_k = E[ sum_s w~_s^2  d log w_s / d z_s  d z_s / d phi ],
/// where log w_s sees q's parameters only through z_s; the decoder keeps the IWAE gradient sum_s w~_s grad_theta log w_s.
/// Two surrogate terms on the same samples carry the two: the decoder's with the samples held fixed, the encoder's
/// with the decoder's weights held fixed. Unlike the IWAE's, the encoder gradient's signal-to-noise ratio rises with k
/// once the normalised weights spread over many samples (measured on <see cref="LinearGaussianToy"/>).
/// </summary>
public sealed class DregEstimator<T> : Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Dreg;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var s = model.Sample(t, x, k, rng);
        var logWTheta = model.LogWeights(t, x, s, GradientPaths.Generative);      // reaches theta only
        var logWPhi = model.LogWeights(t, x, s, GradientPaths.Path);              // reaches phi only, through z
        var w = Iwae<T>.ImportanceWeights(t, logWTheta);                           // w~, constant
        var loss = t.Add(Iwae<T>.WeightedLoss(t, w, logWTheta), Iwae<T>.WeightedLoss(t, t.Mul(w, w), logWPhi));
        return (loss, logWTheta);
    }
}
