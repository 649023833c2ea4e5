using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Onnx;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// A model's encoder and decoder as two ONNX graphs (opset 13, float32, weights as initializers), for running the
/// networks elsewhere; the k-sample scoring of log p(x) is not in them (docs/interop.md shows how to do it with them).
/// <list type="bullet">
/// <item>Encoder q(z|x): "x" [N,D] -> "mu" [N,Z], "log_sigma" [N,Z] (what <see cref="GaussianEncoder{T}"/> computes:
/// q = N(mu, diag(exp(log_sigma)^2))) and "log_var" [N,Z] = 2 log_sigma, the log variance.</item>
/// <item>Decoder p(x|z), Bernoulli: "z" [N,Z] -> "logits" [N,D] and "probs" [N,D] = sigmoid(logits); Gaussian with a
/// fixed sigma: "z" [N,Z] -> "mean" [N,D], the sigma in the metadata (<see cref="DecoderSigmaKey"/>).</item>
/// </list>
/// N is the symbolic batch dimension "N". Each hidden layer is Gemm then Tanh, each head a Gemm with our W [in,out] as B
/// and our b as a 1-D C; every initializer keeps its parameter's name (e.g. "encoder.hidden.0.W" [784,200]).
/// The metadata (metadata_props) holds "format" (<see cref="Format"/>), "graph" ("encoder" or "decoder") and
/// <see cref="ConfigKey"/>, the <see cref="ModelConfig"/> as JSON. Only one stochastic layer is exported.
/// </summary>
public static class OnnxExport
{
    /// <summary>The metadata "format" of an exported graph.</summary>
    public const string Format = "iwae.net/onnx-1";

    /// <summary>The metadata key of the model config (<see cref="ModelConfig.ToJson"/>).</summary>
    public const string ConfigKey = "iwae.config";

    /// <summary>The metadata key of a Gaussian decoder's fixed sigma (round-trip formatted).</summary>
    public const string DecoderSigmaKey = "iwae.decoder_sigma";

    /// <summary>Graph input and output names.</summary>
    public const string X = "x", Mu = "mu", LogSigma = "log_sigma", LogVar = "log_var", Z = "z", Logits = "logits", Probs = "probs", Mean = "mean";

    /// <summary>
    /// The encoder as an ONNX model: "x" [N,D] -> "mu", "log_sigma", "log_var", each [N,Z].
    /// </summary>
    /// <exception cref="ArgumentException">The model has two stochastic layers.</exception>
    public static byte[] Encoder(Iwae<float> model)
    {
        RequireOneLayer(model);
        var layers = new Layers(model.Encoder.Parameters);
        var g = new OnnxGraph("iwae_encoder");
        string h = layers.Body(g, g.Input(X, model.Config.InputSize), "encoder.hidden");
        g.Output(layers.Head(g, h, "encoder.mu", Mu), model.Latent);
        g.Output(layers.Head(g, h, "encoder.logsigma", LogSigma), model.Latent);
        string two = g.Constant("two", [], [2f]);
        g.Output(g.Op("Mul", LogVar, [LogSigma, two]), model.Latent);
        layers.RequireAllUsed();
        return g.ToModel(Producer, ProducerVersion,
            "IWAE encoder q(z|x) = N(mu, diag(exp(log_sigma)^2)): x [N,D] -> mu, log_sigma, log_var = 2 log_sigma, each [N,Z]",
            Metadata(model, "encoder"));
    }

    /// <summary>
    /// The decoder as an ONNX model: "z" [N,Z] -> "logits" and "probs" [N,D] (Bernoulli) or "mean" [N,D] (Gaussian).
    /// </summary>
    /// <exception cref="ArgumentException">The model has two stochastic layers.</exception>
    public static byte[] Decoder(Iwae<float> model)
    {
        RequireOneLayer(model);
        var config = model.Config;
        var layers = new Layers(model.Decoder.Parameters);
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
                // A decoder with a learned variance adds its head here: g.Output(layers.Head(g, h, "decoder.<name>", LogSigma), D).
                g.Output(layers.Head(g, h, "decoder.out", Mean), config.InputSize);
                metadata[DecoderSigmaKey] = config.DecoderSigma.ToString("R", CultureInfo.InvariantCulture);
                doc = $"IWAE decoder p(x|z) = N(mean, sigma^2 I) with sigma = {metadata[DecoderSigmaKey]} ({DecoderSigmaKey}): z [N,Z] -> mean [N,D]";
                break;
            default:
                throw new ArgumentException($"ONNX export has no decoder graph for observation model {config.Observation}");
        }
        layers.RequireAllUsed();
        return g.ToModel(Producer, ProducerVersion, doc, metadata);
    }

    private const string Producer = "iwae.net";
    private static readonly string ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "";

    private static Dictionary<string, string> Metadata(Iwae<float> model, string graph)
        => new() { ["format"] = Format, ["graph"] = graph, [ConfigKey] = model.Config.ToJson() };

    private static void RequireOneLayer(Iwae<float> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Layers != 1)
            throw new ArgumentException($"ONNX export covers models with one stochastic layer; this one has {model.Layers} ({model.Config.Architecture}): export it with --format torch");
    }

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
