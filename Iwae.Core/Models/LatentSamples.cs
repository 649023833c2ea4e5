using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core.Models;

/// <summary>Which ways the gradient of log w may reach the parameters; the gradient estimators differ only in these.</summary>
/// <remarks>
/// With z = mu_phi(x) + sigma_phi(x) eps, the total derivative of log w = log p_theta(x, z) - log q_phi(z|x) with
/// respect to phi is a path term (through z) plus a score term (d/dphi log q_phi(z|x) at fixed z, whose expectation
/// is zero: Roeder et al. 2017). Theta enters only through log p_theta.
/// </remarks>
[Flags]
public enum GradientPaths
{
    /// <summary>Nothing: log w is a constant.</summary>
    None = 0,
    /// <summary>Through the reparameterised samples z = mu + sigma eps into the encoder (the path derivative).</summary>
    Path = 1,
    /// <summary>Through q's parameters where log q(z|x) depends on them at fixed z (the score-function term).</summary>
    Score = 2,
    /// <summary>Into the generative model's parameters theta (the decoders).</summary>
    Generative = 4,
    /// <summary>Every path: the plain gradient of log w.</summary>
    All = Path | Score | Generative,
}

/// <summary>
/// k reparameterised draws from q for each of B inputs, stacked sample-major (row s*B + b is sample s of input b),
/// with the parameters of q at which they were drawn. One stochastic layer fills <see cref="H1"/> (the z of the
/// paper's section 3); two layers add <see cref="H2"/> ~ q(h2|h1).
/// </summary>
public readonly struct LatentSamples<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Samples per input.</summary>
    public int K { get; init; }

    /// <summary>h1 = mu1 + sigma1 eps1 ~ q(h1|x): [k*B, Z1].</summary>
    public Var<T> H1 { get; init; }

    /// <summary>q(h1|x)'s mean, repeated for every sample: [k*B, Z1].</summary>
    public Var<T> Mu1 { get; init; }

    /// <summary>q(h1|x)'s log standard deviation, repeated for every sample: [k*B, Z1].</summary>
    public Var<T> LogSigma1 { get; init; }

    /// <summary>h2 = mu2(h1) + sigma2(h1) eps2 ~ q(h2|h1): [k*B, Z2]; two stochastic layers only.</summary>
    public Var<T> H2 { get; init; }

    /// <summary>q(h2|h1)'s mean at the sampled h1: [k*B, Z2]; two layers only.</summary>
    public Var<T> Mu2 { get; init; }

    /// <summary>q(h2|h1)'s log standard deviation at the sampled h1: [k*B, Z2]; two layers only.</summary>
    public Var<T> LogSigma2 { get; init; }
}
