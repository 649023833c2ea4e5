using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core.Models;

/// <summary>
/// The recognition model q(z|x) = N(z; mu(x), diag(sigma(x)^2)): a tanh MLP with two linear heads,
/// mu and log sigma. With two stochastic layers the same conditional Gaussian also serves as q(h2|h1) and as
/// the generative model's p(h1|h2) (Burda et al. 2016, section 5), under other parameter names.
/// </summary>
public sealed class GaussianEncoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _body;
    private readonly Dense<T> _mu, _logSigma;

    /// <summary>input -> hidden... -> (mu, logSigma), each [N, latent]; parameters named "{name}.hidden.i", "{name}.mu", "{name}.logsigma".</summary>
    public GaussianEncoder(int input, IReadOnlyList<int> hidden, int latent, Rng rng, string name = "encoder")
    {
        _body = new Mlp<T>(name + ".hidden", input, hidden, rng);
        _mu = new Dense<T>(name + ".mu", _body.Outputs, latent, rng);
        _logSigma = new Dense<T>(name + ".logsigma", _body.Outputs, latent, rng);
    }

    /// <summary>Latent dimension.</summary>
    public int Latent => _mu.Outputs;

    /// <summary>
    /// x [B,D] -> mu [B,Z], logSigma [B,Z]. With <paramref name="detachParameters"/> the weights enter as constants
    /// (StopGradient): mu and logSigma still depend on x, but no gradient reaches this network's parameters.
    /// </summary>
    public (Var<T> Mu, Var<T> LogSigma) Encode(Tape<T> t, Var<T> x, bool detachParameters = false)
    {
        var h = _body.Forward(t, x, detachParameters);
        return (_mu.Linear(t, h, detachParameters), _logSigma.Linear(t, h, detachParameters));
    }

    /// <summary>Body, then the mu head, then the log-sigma head.</summary>
    public IEnumerable<Parameter<T>> Parameters => _body.Parameters.Concat(_mu.Parameters).Concat(_logSigma.Parameters);
}
