using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Onnx;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// A model's encoder and decoder as ONNX graphs (opset 13, float32, weights as initializers), for running the
/// networks elsewhere; the k-sample scoring of log p(x) is not in them (docs/interop.md shows how to do it with them).
/// <list type="bullet">
/// <item>Encoder q(z|x): "x" [N,D] -> "mu" [N,Z], "log_sigma" [N,Z] (what <see cref="GaussianEncoder{T}"/> computes:
/// q = N(mu, diag(exp(log_sigma)^2))) and "log_var" [N,Z] = 2 log_sigma, the log variance.</item>
/// <item>Decoder p(x|z), Bernoulli: "z" [N,Z] -> "logits" [N,D] and "probs" [N,D] = sigmoid(logits); Gaussian:
/// "z" [N,Z] -> "mean" [N,D] and "log_sigma" [N,D] (fixed, shared or per dimension, the learned one after its floor; the
/// same in every row), a fixed sigma also in the metadata (<see cref="DecoderSigmaKey"/>).</item>
/// <item>A standardising model's graphs work in the data's units: the encoder reads (x - data.mean) / data.std, the
/// decoder gives mean * data.std + data.mean and log_sigma + log data.std.</item>
/// <item>With two stochastic layers z is h1, and two more graphs hold the conditional Gaussians of the second layer:
/// q(h2|h1) (<see cref="EncoderH2"/>: "h1" [N,Z] -> "mu", "log_sigma", "log_var" [N,Z2]) and p(h1|h2)
/// (<see cref="DecoderH1"/>: "h2" [N,Z2] -> "mu", "log_sigma", "log_var" [N,Z]).</item>
/// </list>
/// N is the symbolic batch dimension "N". Each hidden layer is Gemm then Tanh, each head a Gemm with our W [in,out] as B
/// and our b as a 1-D C; every initializer keeps its parameter's name (e.g. "encoder.hidden.0.W" [784,200]).
/// The metadata (metadata_props) holds "format" (<see cref="Format"/>), "graph" (the network's name: "encoder",
/// "decoder", "encoder.h2", "decoder.h1") and <see cref="ConfigKey"/>, the <see cref="ModelConfig"/> as JSON.
/// </summary>
public static class OnnxExport
{
    /// <summary>The metadata "format" of an exported graph.</summary>
    public const string Format = "iwae.net/onnx-1";

    /// <summary>The metadata key of the model config (<see cref="ModelConfig.ToJson"/>).</summary>
    public const string ConfigKey = "iwae.config";

    /// <summary>The metadata key of a Gaussian decoder's fixed sigma (round-trip formatted).</summary>
    public const string DecoderSigmaKey = "iwae.decoder_sigma";

    /// <summary>The metadata key of a Gaussian decoder's variance: fixed, shared or perdimension.</summary>
    public const string DecoderVarianceKey = "iwae.decoder_variance";

    /// <summary>Graph input and output names.</summary>
    public const string X = "x", Mu = "mu", LogSigma = "log_sigma", LogVar = "log_var", Z = "z", Logits = "logits", Probs = "probs", Mean = "mean",
        H1 = "h1", H2 = "h2";

    /// <summary>The encoder q(z|x) (q(h1|x) with two stochastic layers): "x" [N,D] -> "mu", "log_sigma", "log_var", each [N,Z].</summary>
    public static byte[] Encoder(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Gaussian(model, model.Encoder.Parameters, "encoder", X, model.Config.InputSize, model.Latent,
            "IWAE encoder q(z|x) = N(mu, diag(exp(log_sigma)^2)): x [N,D] -> mu, log_sigma, log_var = 2 log_sigma, each [N,Z]",
            model.Standardization);
    }

    /// <summary>q(h2|h1), with two stochastic layers: "h1" [N,Z] -> "mu", "log_sigma", "log_var", each [N,Z2].</summary>
    /// <exception cref="ArgumentException">The model has one stochastic layer.</exception>
    public static byte[] EncoderH2(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var network = model.EncoderH2 ?? throw new ArgumentException("the model has one stochastic layer, so no q(h2|h1)");
        return Gaussian(model, network.Parameters, "encoder.h2", H1, model.Latent, model.Config.Latent2,
            "IWAE q(h2|h1) = N(mu, diag(exp(log_sigma)^2)): h1 [N,Z] -> mu, log_sigma, log_var = 2 log_sigma, each [N,Z2]");
    }

    /// <summary>p(h1|h2), with two stochastic layers: "h2" [N,Z2] -> "mu", "log_sigma", "log_var", each [N,Z].</summary>
    /// <exception cref="ArgumentException">The model has one stochastic layer.</exception>
    public static byte[] DecoderH1(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var network = model.DecoderH1 ?? throw new ArgumentException("the model has one stochastic layer, so no p(h1|h2)");
        return Gaussian(model, network.Parameters, "decoder.h1", H2, model.Config.Latent2, model.Latent,
            "IWAE p(h1|h2) = N(mu, diag(exp(log_sigma)^2)): h2 [N,Z2] -> mu, log_sigma, log_var = 2 log_sigma, each [N,Z]");
    }

    /// <summary>
    /// The decoder p(x|z) (p(x|h1) with two stochastic layers): "z" [N,Z] -> "logits" and "probs" [N,D] (Bernoulli) or
    /// "mean" [N,D] (Gaussian).
    /// </summary>
    public static byte[] Decoder(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        // A learned sigma is not a dense layer: it goes into the graph as the log sigma it gives (after the floor).
        var layers = new Layers(model.Decoder.Parameters.Where(p => p.Name != GaussianDecoder<float>.LogSigmaName));
        var g = new OnnxGraph("iwae_decoder");
        string h = layers.Body(g, g.Input(Z, config.Latent), "decoder.hidden");
        var metadata = Metadata(model, "decoder");
        string doc;
        switch (config.Observation)
        {
            case Observation.Bernoulli:
                g.Output(layers.Head(g, h, "decoder.out", Logits), config.InputSize);
                g.Output(g.Op("Sigmoid", Probs, [Logits]), config.InputSize);
                doc = "IWAE decoder p(x|z) = prod_j Bernoulli(x_j; probs_j): z [N,Z] -> logits [N,D], probs = sigmoid(logits) [N,D]";
                break;
            case Observation.Gaussian:
                // In the data's units: a standardising model's mean * std + data mean, and log sigma + log std.
                var s = model.Standardization;
                string mean = layers.Head(g, h, "decoder.out", s is null ? Mean : "mean_standardised");
                if (s is not null)
                    mean = g.Op("Add", Mean, [g.Op("Mul", "mean_scaled", [mean, g.Constant(Iwae<float>.DataStdName, [config.InputSize], s.Std)]),
                        g.Constant(Iwae<float>.DataMeanName, [config.InputSize], s.Mean)]);
                g.Output(mean, config.InputSize);
                var sigma = ((GaussianDecoder<float>)model.Decoder).Sigma();
                var logSigma = new float[config.InputSize];
                for (int j = 0; j < logSigma.Length; j++) logSigma[j] = (float)(Math.Log(sigma[j]) + (s is null ? 0 : Math.Log(s.Std[j])));
                string row = g.Constant("decoder.log_sigma_row", [1, config.InputSize], logSigma);
                g.Output(g.Op("Expand", LogSigma, [row, g.Op("Shape", "mean_shape", [Mean])]), config.InputSize);
                metadata[DecoderVarianceKey] = config.DecoderVariance.ToString().ToLowerInvariant();
                if (config.DecoderVariance == DecoderVariance.Fixed) metadata[DecoderSigmaKey] = config.DecoderSigma.ToString("R", CultureInfo.InvariantCulture);
                doc = "IWAE decoder p(x|z) = N(mean, diag(exp(log_sigma)^2)) in the data's units: z [N,Z] -> mean [N,D], log_sigma [N,D] (the same for every row)";
                break;
            default:
                throw new ArgumentException($"ONNX export has no decoder graph for observation model {config.Observation}");
        }
        layers.RequireAllUsed();
        return g.ToModel(Producer, ProducerVersion, doc, metadata);
    }

    /// <summary>
    /// Every graph of <paramref name="model"/> by network name, in the order a sample flows: "encoder", "decoder", and
    /// with two stochastic layers "encoder.h2" and "decoder.h1" between them.
    /// </summary>
    public static IReadOnlyList<(string Network, byte[] Model)> Graphs(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Layers == 1
            ? [("encoder", Encoder(model)), ("decoder", Decoder(model))]
            : [("encoder", Encoder(model)), ("encoder.h2", EncoderH2(model)), ("decoder.h1", DecoderH1(model)), ("decoder", Decoder(model))];
    }

    /// <summary>A conditional Gaussian network (<see cref="GaussianEncoder{T}"/> named <paramref name="network"/>) as a graph.</summary>
    /// With <paramref name="standardization"/> (a standardising model's encoder) the graph first reads x as (x - mean) / std.
    private static byte[] Gaussian(Iwae<float> model, IEnumerable<Parameter<float>> parameters, string network, string input, int inputs, int latent, string doc,
        Standardization? standardization = null)
    {
        var layers = new Layers(parameters);
        var g = new OnnxGraph("iwae_" + network.Replace('.', '_'));
        string x = g.Input(input, inputs);
        if (standardization is not null)
        {
            string centred = g.Op("Sub", input + "_centred", [x, g.Constant(Iwae<float>.DataMeanName, [inputs], standardization.Mean)]);
            x = g.Op("Div", input + "_std", [centred, g.Constant(Iwae<float>.DataStdName, [inputs], standardization.Std)]);
        }
        string h = layers.Body(g, x, network + ".hidden");
        g.Output(layers.Head(g, h, network + ".mu", Mu), latent);
        g.Output(layers.Head(g, h, network + ".logsigma", LogSigma), latent);
        string two = g.Constant("two", [], [2f]);
        g.Output(g.Op("Mul", LogVar, [LogSigma, two]), latent);
        layers.RequireAllUsed();
        return g.ToModel(Producer, ProducerVersion, doc, Metadata(model, network));
    }

    private const string Producer = "iwae.net";
    private static readonly string ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "";

    private static Dictionary<string, string> Metadata(Iwae<float> model, string graph)
        => new() { ["format"] = Format, ["graph"] = graph, [ConfigKey] = model.Config.ToJson() };

    /// <summary>
    /// A network's dense layers by name ("decoder.hidden.0" holds the parameters "decoder.hidden.0.W" and ".b"); each
    /// layer is written once, and <see cref="RequireAllUsed"/> refuses a graph that left one out, so a network that
    /// gains a layer cannot be exported without it.
    /// </summary>
    private sealed class Layers
    {
        private readonly Dictionary<string, (Parameter<float> W, Parameter<float> B)> _layers = new(StringComparer.Ordinal);
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        public Layers(IEnumerable<Parameter<float>> parameters)
        {
            parameters = parameters.ToArray();
            foreach (var p in parameters)
                if (!p.Name.EndsWith(".W", StringComparison.Ordinal) && !p.Name.EndsWith(".b", StringComparison.Ordinal))
                    throw new ArgumentException($"ONNX export does not know where parameter {p.Name} goes (not a layer's .W or .b)");
            foreach (var w in parameters.Where(p => p.Name.EndsWith(".W", StringComparison.Ordinal)))
                _layers[w.Name[..^2]] = (w, null!);
            foreach (var b in parameters.Where(p => p.Name.EndsWith(".b", StringComparison.Ordinal)))
            {
                string layer = b.Name[..^2];
                if (!_layers.TryGetValue(layer, out var l)) throw new ArgumentException($"bias {b.Name} has no weight {layer}.W");
                _layers[layer] = (l.W, b);
            }
            foreach (var (name, l) in _layers)
                if (l.B is null) throw new ArgumentException($"weight {name}.W has no bias {name}.b");
        }

        /// <summary>The tanh layers "{prefix}.0", "{prefix}.1", ... applied to <paramref name="input"/>; returns the last output.</summary>
        public string Body(OnnxGraph g, string input, string prefix)
        {
            for (int i = 0; _layers.ContainsKey($"{prefix}.{i}"); i++)
            {
                string layer = $"{prefix}.{i}";
                input = g.Op("Tanh", layer, [Gemm(g, input, layer, layer + ".linear")]);
            }
            return input;
        }

        /// <summary>The linear layer <paramref name="layer"/> applied to <paramref name="input"/>, as the value <paramref name="output"/>.</summary>
        public string Head(OnnxGraph g, string input, string layer, string output)
        {
            if (!_layers.ContainsKey(layer)) throw new ArgumentException($"the network has no layer {layer}");
            return Gemm(g, input, layer, output);
        }

        /// <summary>Throws unless every layer went into the graph.</summary>
        public void RequireAllUsed()
        {
            var left = _layers.Keys.Where(k => !_used.Contains(k)).ToArray();
            if (left.Length > 0) throw new ArgumentException($"ONNX export does not know where layer {string.Join(", ", left)} goes");
        }

        // y = x W + b: Gemm(A = x [N,in], B = W [in,out], C = b [out]) with alpha = beta = 1 and no transposes.
        private string Gemm(OnnxGraph g, string input, string layer, string output)
        {
            var (w, b) = _layers[layer];
            if (!_used.Add(layer)) throw new ArgumentException($"layer {layer} is already in the graph");
            string wName = g.Constant(w.Name, [w.Rows, w.Cols], w.Value.Span);
            string bName = g.Constant(b.Name, [b.Cols], b.Value.Span);
            return g.Op("Gemm", output, [input, wName, bName]);
        }
    }
}
