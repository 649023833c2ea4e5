using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Core.Models;

/// <summary>
/// The importance weighted autoencoder (Burda, Grosse and Salakhutdinov 2016, section 3).
/// With k samples z_s ~ q(z|x), the unnormalised importance weights are
///     w_s = p(x, z_s) / q(z_s | x),     log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x),
/// and the bound is  L_k = log (1/k) sum_s w_s, at most log p(x).
/// Its gradient is  sum_s w~_s grad log w_s  with the normalised weights w~_s = w_s / sum_s' w_s' held
/// constant (eq. 14): that is what <see cref="GetWeights"/> returns and what <see cref="Loss"/> weighs by.
/// With two stochastic layers (section 5) z = (h1, h2), q(z|x) = q(h1|x) q(h2|h1), p(x, z) = p(x|h1) p(h1|h2) p(h2), so
///     log w = log p(x|h1) + log p(h1|h2) + log p(h2) - log q(h1|x) - log q(h2|h1),
/// and everything else (weights, loss, bound, evaluation) is unchanged.
/// A model that standardises (<see cref="ModelConfig.Standardize"/>) reads every x as x_std = (x - mean) / std, with the
/// training split's statistics it keeps (<see cref="Buffers"/>), and adds the change of variables -sum_d log std_d to
/// log p(x|z): every log w, bound and likelihood it reports is in the data's own units, and its decoder means are mapped
/// back to them (<see cref="DecoderMean"/>). Its entry points (<see cref="Encode"/>, <see cref="Sample(Tape{T}, Var{T}, int, Rng)"/>,
/// <see cref="LogWeights(Tape{T}, Var{T}, in LatentSamples{T}, GradientPaths)"/>) all take x as the data hold it.
/// </summary>
public class Iwae<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The settings this model was built from.</summary>
    public ModelConfig Config { get; }

    /// <summary>q(z|x); with two stochastic layers q(h1|x).</summary>
    public GaussianEncoder<T> Encoder { get; }

    /// <summary>q(h2|h1), with two stochastic layers; null with one.</summary>
    public GaussianEncoder<T>? EncoderH2 { get; }

    /// <summary>p(x|z) (p(x|h1) with two layers); the prior of the top layer is N(0, I).</summary>
    public IDecoder<T> Decoder { get; }

    /// <summary>p(h1|h2), a conditional Gaussian, with two stochastic layers; null with one.</summary>
    public GaussianEncoder<T>? DecoderH1 { get; }

    /// <summary>Every trainable parameter: encoder, then decoder.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>The inference network's parameters phi (q).</summary>
    public IReadOnlyList<Parameter<T>> EncoderParameters { get; }

    /// <summary>The generative model's parameters theta (p).</summary>
    public IReadOnlyList<Parameter<T>> DecoderParameters { get; }

    /// <summary>
    /// Tensors the model keeps but does not train (torch's buffers): with <see cref="ModelConfig.Standardize"/> the
    /// training split's "data.mean" and "data.std", each [1,D]; otherwise none.
    /// </summary>
    public IReadOnlyList<Parameter<T>> Buffers { get; }

    /// <summary>Everything a checkpoint holds of the model, as torch's state_dict: <see cref="Parameters"/>, then <see cref="Buffers"/>.</summary>
    public IReadOnlyList<Parameter<T>> State { get; }

    /// <summary>The name of the standardisation's mean in checkpoints.</summary>
    public const string DataMeanName = "data.mean";

    /// <summary>The name of the standardisation's standard deviation in checkpoints.</summary>
    public const string DataStdName = "data.std";

    private readonly Parameter<T>? _dataMean, _dataStd;

    /// <summary>k, the number of samples per input during training.</summary>
    public int K => Config.K;

    /// <summary>Latent dimension Z (of h1 with two stochastic layers).</summary>
    public int Latent => Config.Latent;

    /// <summary>Stochastic layers, 1 or 2.</summary>
    public int Layers => Config.Layers;

    /// <summary>Builds the networks of <paramref name="config"/> with weights drawn from <paramref name="rng"/>.</summary>
    /// <param name="config">Architecture and k.</param>
    /// <param name="rng">Initialisation noise.</param>
    /// <param name="meanPixel">Training-set mean per pixel, for the decoder's output bias (empty: zero bias; ignored when the
    /// model standardises, whose data have mean 0).</param>
    /// <param name="standardization">The training split's statistics, for a config with <see cref="ModelConfig.Standardize"/>
    /// (null: mean 0 and std 1, for a model whose statistics a checkpoint then fills in); must be null otherwise.</param>
    public Iwae(ModelConfig config, Rng rng, ReadOnlySpan<float> meanPixel = default, Standardization? standardization = null)
    {
        Config = config.Validate();
        if (!meanPixel.IsEmpty && meanPixel.Length != config.InputSize)
            throw new ArgumentException($"the data has {meanPixel.Length} values per example (its mean has as many), the model expects {config.InputSize}");
        if (config.Standardize)
        {
            (_dataMean, _dataStd) = (new Parameter<T>(DataMeanName, 1, config.InputSize), new Parameter<T>(DataStdName, 1, config.InputSize));
            _dataStd.Value.Span.Fill(T.One);
            if (standardization is not null) SetStandardization(standardization);
            meanPixel = default;
        }
        else if (standardization is not null) throw new ArgumentException("standardisation statistics given for a model that does not standardise", nameof(standardization));
        Encoder = new GaussianEncoder<T>(config.InputSize, config.Hidden, config.Latent, rng);
        if (config.Layers == 2) EncoderH2 = new GaussianEncoder<T>(config.Latent, config.Hidden2, config.Latent2, rng, "encoder.h2");
        var mirrored = config.Hidden.Reverse().ToArray();
        Decoder = config.Observation == Observation.Bernoulli
            ? new BernoulliDecoder<T>(config.Latent, mirrored, config.InputSize, meanPixel, rng)
            : new GaussianDecoder<T>(config.Latent, mirrored, config.InputSize, config.DecoderSigma, meanPixel, rng, config.DecoderVariance, config.SigmaFloor);
        if (config.Layers == 2) DecoderH1 = new GaussianEncoder<T>(config.Latent2, config.Hidden2.Reverse().ToArray(), config.Latent, rng, "decoder.h1");
        EncoderParameters = Encoder.Parameters.Concat(EncoderH2?.Parameters ?? []).ToArray();
        DecoderParameters = Decoder.Parameters.Concat(DecoderH1?.Parameters ?? []).ToArray();
        Parameters = EncoderParameters.Concat(DecoderParameters).ToArray();
        Buffers = _dataMean is null ? [] : [_dataMean, _dataStd!];
        State = Parameters.Concat(Buffers).ToArray();
    }

    /// <summary>An <see cref="Iwae{T}"/> or a <see cref="Vae{T}"/>, as <paramref name="config"/> says.</summary>
    public static Iwae<T> Create(ModelConfig config, Rng rng, ReadOnlySpan<float> meanPixel = default, Standardization? standardization = null)
        => config.Model == ModelKind.Vae ? new Vae<T>(config, rng, meanPixel, standardization) : new Iwae<T>(config, rng, meanPixel, standardization);

    /// <summary>The statistics this model standardises with, or null when it reads the data as they are.</summary>
    public Standardization? Standardization => _dataMean is null ? null
        : new Standardization(ToFloats(_dataMean.Value.Span), ToFloats(_dataStd!.Value.Span));

    /// <summary>Replaces the statistics of a model that standardises; every std must be positive and finite.</summary>
    public void SetStandardization(Standardization standardization)
    {
        ArgumentNullException.ThrowIfNull(standardization);
        if (_dataMean is null) throw new InvalidOperationException("this model does not standardise its data (ModelConfig.Standardize)");
        int d = _dataMean.Cols;
        if (standardization.Mean.Length != d || standardization.Std.Length != d)
            throw new ArgumentException($"standardisation statistics have {standardization.Mean.Length} means and {standardization.Std.Length} deviations, the model reads {d} values", nameof(standardization));
        for (int j = 0; j < d; j++)          // all checked before any is written
            if (!(standardization.Std[j] > 0) || !float.IsFinite(standardization.Std[j]) || !float.IsFinite(standardization.Mean[j]))
                throw new ArgumentException($"standardisation of dimension {j}: mean {standardization.Mean[j]} and std {standardization.Std[j]} must be finite, the std positive", nameof(standardization));
        for (int j = 0; j < d; j++)
        {
            _dataMean.Value.Span[j] = T.CreateTruncating(standardization.Mean[j]);
            _dataStd!.Value.Span[j] = T.CreateTruncating(standardization.Std[j]);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the statistics the model holds (read from a file, say) are usable: finite, every std positive.</summary>
    public void CheckStandardization()
    {
        if (Standardization is { } s) SetStandardization(s);
    }

    private static float[] ToFloats(ReadOnlySpan<T> values)
    {
        var f = new float[values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = float.CreateTruncating(values[i]);
        return f;
    }

    /// <summary>
    /// x [B,D] as the networks read it: (x - mean) / std when the model standardises, x itself otherwise. Every entry
    /// point that takes data calls it.
    /// </summary>
    public Var<T> Standardized(Tape<T> t, Var<T> x)
    {
        if (_dataMean is null) return x;
        var invStd = t.Arena.Allocate(1, _dataStd!.Cols);
        var std = _dataStd.Value.Span;
        var inv = invStd.Span;
        for (int j = 0; j < inv.Length; j++) inv[j] = T.One / std[j];
        return t.Mul(t.Sub(x, t.Constant(_dataMean.Value)), t.Constant(invStd));
    }

    /// <summary>sum_d log std_d, what standardising adds to -log p(x); 0 without standardisation.</summary>
    public double LogDeterminant()
    {
        if (_dataStd is null) return 0;
        double sum = 0;
        foreach (var s in _dataStd.Value.Span) sum += Math.Log(double.CreateTruncating(s));
        return sum;
    }

    /// <summary>q(z|x)'s (mu, logSigma) [B,Z] for x [B,D] in the data's units (standardised first when the model does).</summary>
    public (Var<T> Mu, Var<T> LogSigma) Encode(Tape<T> t, Var<T> x) => Encoder.Encode(t, Standardized(t, x));

    /// <summary>E[x|z] in the data's units: z [N,Z] -> [N,D] (pixel probabilities for the Bernoulli decoder; the
    /// standardised mean mapped back, mean * std + data mean, when the model standardises).</summary>
    public Var<T> DecoderMean(Tape<T> t, Var<T> z)
    {
        var m = Decoder.Mean(t, z);
        return _dataMean is null ? m : t.Add(t.Mul(m, t.Constant(_dataStd!.Value)), t.Constant(_dataMean.Value));
    }

    /// <summary>
    /// An <see cref="Iwae{T}"/> or a <see cref="Vae{T}"/> for the examples of <paramref name="train"/> [N, D]: the decoder's
    /// output bias starts at their mean (Burda et al.'s initialisation). <paramref name="config"/>'s InputSize must be D;
    /// <see cref="ModelConfig.WithInput"/> sets it from the data.
    /// </summary>
    /// <exception cref="ArgumentException">The data's width is not the model's input size ("the data has 20 values per example,
    /// the model expects 784"), or the data set is empty.</exception>
    public static Iwae<T> Create(ModelConfig config, Rng rng, Dataset train)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(train);
        if (train.PixelsPerImage != config.InputSize)
            throw new ArgumentException($"the data has {train.PixelsPerImage} values per example, the model expects {config.InputSize}");
        if (train.Count == 0) throw new ArgumentException("the training set is empty");
        return Create(config, rng, train.MeanPerPixel(), config.Standardize ? Standardization.Of(train.Images) : null);
    }

    /// <summary>
    /// log w for k samples of each input: x [B,D] -> [k,B], row s holding sample s of every input.
    /// The noise eps ~ N(0, I) comes from <paramref name="rng"/>.
    /// </summary>
    public Var<T> LogWeights(Tape<T> t, Var<T> x, int k, Rng rng) => LogWeights(t, x, Sample(t, x, k, rng));

    /// <summary>
    /// log w given the first layer's encoder output (mu, logSigma) [B,Z] for x [B,D] -> [k,B]. Evaluation encodes
    /// each image once and calls this for every chunk of samples.
    /// </summary>
    public Var<T> LogWeights(Tape<T> t, Var<T> x, Var<T> mu, Var<T> logSigma, int k, Rng rng)
        => LogWeights(t, x, Sample(t, mu, logSigma, k, rng));

    /// <summary>k reparameterised samples from q for each row of x [B,D]; see <see cref="LatentSamples{T}"/>.</summary>
    public LatentSamples<T> Sample(Tape<T> t, Var<T> x, int k, Rng rng)
    {
        var (mu, logSigma) = Encode(t, x);
        return Sample(t, mu, logSigma, k, rng);
    }

    /// <summary>k samples per input from q(h1|x) = N(mu, exp(logSigma)^2), mu and logSigma [B,Z], and with two layers h2 ~ q(h2|h1).</summary>
    public LatentSamples<T> Sample(Tape<T> t, Var<T> mu, Var<T> logSigma, int k, Rng rng)
    {
        // The k samples are stacked sample-major, so the decoder runs once on k*B rows.
        var muK = t.RepeatRows(mu, k);                                        // [k*B,Z]
        var logSigmaK = t.RepeatRows(logSigma, k);                            // [k*B,Z]
        var eps1 = t.Arena.Allocate(muK.Rows, muK.Cols);
        if (EncoderH2 is null)
        {
            rng.FillNormal(eps1.Span);
            return new LatentSamples<T> { K = k, H1 = Reparameterize(t, muK, logSigmaK, eps1), Mu1 = muK, LogSigma1 = logSigmaK };
        }
        // Both layers' noise is drawn row by row, so that for one input the draws do not depend on how k is chunked.
        var eps2 = t.Arena.Allocate(muK.Rows, Config.Latent2);
        for (int r = 0; r < muK.Rows; r++)
        {
            rng.FillNormal(eps1.Row(r));
            rng.FillNormal(eps2.Row(r));
        }
        var h1 = Reparameterize(t, muK, logSigmaK, eps1);
        var (mu2, logSigma2) = EncoderH2.Encode(t, h1);                      // [k*B,Z2]
        var h2 = Reparameterize(t, mu2, logSigma2, eps2);
        return new LatentSamples<T> { K = k, H1 = h1, Mu1 = muK, LogSigma1 = logSigmaK, H2 = h2, Mu2 = mu2, LogSigma2 = logSigma2 };
    }

    /// <summary>z = mu + sigma * eps.</summary>
    private static Var<T> Reparameterize(Tape<T> t, Var<T> mu, Var<T> logSigma, Tensor<T> eps)
        => t.Add(mu, t.Mul(t.Exp(logSigma), t.Constant(eps)));

    /// <summary>
    /// log w = log p(x, z) - log q(z|x) at the samples <paramref name="s"/> of the inputs x [B,D] -> [k,B]. The value
    /// never depends on <paramref name="paths"/>; the gradient flows only along the paths named there (StopGradient
    /// elsewhere), which is all the estimators need: STL drops <see cref="GradientPaths.Score"/>, DReG and PIWAE
    /// split the encoder's part (<see cref="GradientPaths.Path"/>, <see cref="GradientPaths.Score"/>) from the
    /// decoder's (<see cref="GradientPaths.Generative"/>).
    /// </summary>
    public Var<T> LogWeights(Tape<T> t, Var<T> x, in LatentSamples<T> s, GradientPaths paths = GradientPaths.All)
    {
        bool path = (paths & GradientPaths.Path) != 0, score = (paths & GradientPaths.Score) != 0;
        bool detachTheta = (paths & GradientPaths.Generative) == 0;
        var h1 = path ? s.H1 : t.StopGradient(s.H1);
        var logPx = Decoder.LogLikelihood(t, h1, Standardized(t, x), detachTheta);       // [k*B,1], x [B,D] tiled
        if (_dataStd is not null) logPx = t.Sub(logPx, t.Fill(1, 1, T.CreateTruncating(LogDeterminant())));   // in the data's units
        var logQ1 = score
            ? t.GaussianLogDensity(h1, s.Mu1, s.LogSigma1)                               // [k*B,1]
            : t.GaussianLogDensity(h1, t.StopGradient(s.Mu1), t.StopGradient(s.LogSigma1));
        Var<T> logW;
        if (EncoderH2 is null)
        {
            var logPz = t.StandardNormalLogDensity(h1);                                   // [k*B,1]
            logW = t.Sub(t.Add(logPx, logPz), logQ1);
        }
        else
        {
            var h2 = path ? s.H2 : t.StopGradient(s.H2);
            var (pMu, pLogSigma) = DecoderH1!.Encode(t, h2, detachTheta);
            var logPh1 = t.GaussianLogDensity(h1, pMu, pLogSigma);                       // log p(h1|h2)
            var logPh2 = t.StandardNormalLogDensity(h2);                                  // log p(h2)
            var (qMu, qLogSigma) = QH2(t, s, h1, path, score);
            var logQ2 = t.GaussianLogDensity(h2, qMu, qLogSigma);                        // log q(h2|h1)
            logW = t.Sub(t.Sub(t.Add(t.Add(logPx, logPh1), logPh2), logQ1), logQ2);
        }
        return t.Reshape(logW, s.K, s.H1.Rows / s.K);                                      // [k,B]
    }

    /// <summary>
    /// q(h2|h1)'s parameters for log q(h2|h1) under <paramref name="path"/> and <paramref name="score"/>. h1 is an input
    /// of this network, so the path term runs through it as well: when only one of the two is wanted the network is
    /// evaluated again, on h1 as passed (detached without the path) and with its weights detached without the score.
    /// </summary>
    private (Var<T> Mu, Var<T> LogSigma) QH2(Tape<T> t, in LatentSamples<T> s, Var<T> h1, bool path, bool score)
    {
        if (path && score) return (s.Mu2, s.LogSigma2);
        if (!path && !score) return (t.StopGradient(s.Mu2), t.StopGradient(s.LogSigma2));
        return EncoderH2!.Encode(t, h1, detachParameters: !score);
    }

    /// <summary>
    /// The normalised importance weights w~_s = exp(log w_s - logsumexp_s' log w_s'), held constant
    /// (StopGradient): [k,B] -> [k,B], each column summing to 1.
    /// </summary>
    protected virtual Var<T> GetWeights(Tape<T> t, Var<T> logW) => ImportanceWeights(t, logW);

    /// <summary>w~ = StopGradient(softmax_s log w_s): [k,B] -> [k,B]; the IWAE's weights, for estimators that reweigh them.</summary>
    public static Var<T> ImportanceWeights(Tape<T> t, Var<T> logW) => t.StopGradient(t.Softmax(logW, axis: 0));

    /// <summary>
    /// The surrogate loss -mean_b sum_s w~_bs log w_bs: its gradient is -grad L_k. Its value is not -L_k;
    /// report <see cref="Bound"/> instead.
    /// </summary>
    public Var<T> Loss(Tape<T> t, Var<T> logW) => WeightedLoss(t, GetWeights(t, logW), logW);

    /// <summary>
    /// -mean_b sum_s weights_bs log w_bs for weights and log-weights [k,B] -> [1,1]: <see cref="Loss"/> with the
    /// model's own weights, and the shape of every estimator's surrogate, which may weigh differently (DReG: w~^2).
    /// </summary>
    public static Var<T> WeightedLoss(Tape<T> t, Var<T> weights, Var<T> logW)
        => t.Neg(t.Mean(t.Sum(t.Mul(weights, logW), axis: 0)));

    /// <summary>The bound mean_b L_k = mean_b (logsumexp_s log w_bs - log k), computed stably. [1,1].</summary>
    public static Var<T> Bound(Tape<T> t, Var<T> logW)
        => t.Mean(t.Sub(t.LogSumExp(logW, axis: 0), t.Fill(1, 1, T.CreateTruncating(Math.Log(logW.Rows)))));
}
