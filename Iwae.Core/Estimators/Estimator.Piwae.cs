using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Estimators;

/// <summary>
/// PIWAE(M, K) (Rainforth et al. 2018): on the same k = M K samples the decoder follows the IWAE bound of all k
/// (a tighter bound is better for learning the model) and the encoder the MIWAE(M, K) bound (whose gradient keeps
/// its signal-to-noise ratio as k grows). Two surrogate terms carry the two: the decoder's with the samples and q
/// held fixed, the encoder's with the decoder's weights held fixed.
/// </summary>
public sealed class PiwaeEstimator<T> : GroupedEstimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>PIWAE with <paramref name="groups"/> groups (M of the encoder's MIWAE bound).</summary>
    public PiwaeEstimator(int groups) : base(groups) { }

    /// <inheritdoc />
    public override GradientEstimator Kind => GradientEstimator.Piwae;

    /// <inheritdoc />
    public override (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng)
    {
        var s = model.Sample(t, x, k, rng);
        var logWTheta = model.LogWeights(t, x, s, GradientPaths.Generative);                        // reaches theta only
        var logWPhi = model.LogWeights(t, x, s, GradientPaths.Path | GradientPaths.Score);          // reaches phi only
        var loss = t.Add(model.Loss(t, logWTheta), MiwaeEstimator<T>.GroupedLoss(t, model, logWPhi, Groups));
        return (loss, logWTheta);
    }
}
