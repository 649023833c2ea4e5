namespace Iwae.Core.Onnx;

/// <summary>
/// One ONNX graph of float32 tensors, built node by node and written as a ModelProto (onnx/onnx.proto). Graph inputs
/// and outputs are matrices [N, width] with a symbolic batch dimension <see cref="BatchDimension"/>; weights are
/// initializers (raw little-endian data); nodes take only the attributes our graphs use (integers).
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>The name of the batch dimension of every graph input and output.</summary>
    public const string BatchDimension = "N";

    /// <summary>IR version 7 is the first that opset 13 may use (ONNX's versioning table); every runtime since 2020 reads it.</summary>
    public const long IrVersion = 7;

    /// <summary>The default domain's operator set: 13 has every op written here (Gemm with a 1-D bias, Tanh, Sigmoid, Mul).</summary>
    public const long Opset = 13;

    // TensorProto.DataType.FLOAT.
    private const int Float = 1;

    private sealed record Node(string Op, string Name, string[] Inputs, string Output, (string Name, long Value)[] Attributes);
    private sealed record Initializer(string Name, int[] Dims, float[] Values);

    private readonly string _name;
    private readonly List<Node> _nodes = [];
    private readonly List<Initializer> _initializers = [];
    private readonly List<(string Name, int Width)> _inputs = [], _outputs = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <param name="name">GraphProto.name.</param>
    public OnnxGraph(string name) => _name = name;

    /// <summary>Declares a graph input [N, <paramref name="width"/>] and returns its name.</summary>
    public string Input(string name, int width)
    {
        Claim(name);
        _inputs.Add((name, width));
        return name;
    }

    /// <summary>Declares the value <paramref name="name"/> (made by a node) a graph output [N, <paramref name="width"/>].</summary>
    public void Output(string name, int width)
    {
        if (!_names.Contains(name)) throw new ArgumentException($"no value '{name}' in graph '{_name}' to output");
        _outputs.Add((name, width));
    }

    /// <summary>A float32 initializer of shape <paramref name="dims"/> (row-major values); returns its name.</summary>
    public string Constant(string name, int[] dims, ReadOnlySpan<float> values)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != values.Length) throw new ArgumentException($"initializer '{name}' has {values.Length} values for shape [{string.Join(",", dims)}]");
        Claim(name);
        _initializers.Add(new Initializer(name, dims, values.ToArray()));
        return name;
    }

    /// <summary>A node of <paramref name="op"/> (default domain) writing <paramref name="output"/> from <paramref name="inputs"/>; returns the output's name.</summary>
    public string Op(string op, string output, string[] inputs, params (string Name, long Value)[] attributes)
    {
        foreach (var input in inputs)
            if (!_names.Contains(input)) throw new ArgumentException($"node {op} -> '{output}' reads '{input}', which graph '{_name}' does not define");
        Claim(output);
        _nodes.Add(new Node(op, op + "_" + output, inputs, output, attributes));
        return output;
    }

    private void Claim(string name)
    {
        if (!_names.Add(name)) throw new ArgumentException($"graph '{_name}' already has a value named '{name}'");
    }

    /// <summary>
    /// The graph as a complete ModelProto: IR <see cref="IrVersion"/>, opset <see cref="Opset"/>, with
    /// <paramref name="docString"/> and <paramref name="metadata"/> (metadata_props) at the model level.
    /// </summary>
    public byte[] ToModel(string producer, string producerVersion, string docString, IReadOnlyDictionary<string, string> metadata)
    {
        // ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6, graph 7, opset_import 8, metadata_props 14.
        var model = new ProtoWriter()
            .Int(1, IrVersion)
            .String(2, producer)
            .String(3, producerVersion)
            .String(6, docString)
            .Message(7, WriteGraph)
            .Message(8, opset => opset.String(1, "").Int(2, Opset));       // OperatorSetIdProto: domain 1, version 2
        foreach (var (key, value) in metadata)
            model.Message(14, entry => entry.String(1, key).String(2, value)); // StringStringEntryProto: key 1, value 2
        return model.ToArray();
    }

    // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
    private void WriteGraph(ProtoWriter g)
    {
        foreach (var node in _nodes) g.Message(1, n => WriteNode(n, node));
        g.String(2, _name);
        foreach (var init in _initializers) g.Message(5, t => WriteTensor(t, init));
        foreach (var (name, width) in _inputs) g.Message(11, v => WriteValueInfo(v, name, width));
        foreach (var (name, width) in _outputs) g.Message(12, v => WriteValueInfo(v, name, width));
    }

    // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. AttributeProto: name 1, i 3, type 20 (INT = 2).
    private static void WriteNode(ProtoWriter n, Node node)
    {
        foreach (var input in node.Inputs) n.String(1, input);
        n.String(2, node.Output).String(3, node.Name).String(4, node.Op);
        foreach (var (name, value) in node.Attributes) n.Message(5, a => a.String(1, name).Int(3, value).Int(20, 2));
    }

    // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
    private static void WriteTensor(ProtoWriter t, Initializer init)
    {
        foreach (var d in init.Dims) t.Int(1, d);
        t.Int(2, Float).String(8, init.Name).FloatsAsBytes(9, init.Values);
    }

    // ValueInfoProto: name 1, type 2. TypeProto: tensor_type 1. TypeProto.Tensor: elem_type 1, shape 2.
    // TensorShapeProto: dim 1. Dimension: dim_value 1, dim_param 2.
    private static void WriteValueInfo(ProtoWriter v, string name, int width)
        => v.String(1, name).Message(2, type => type.Message(1, tensor => tensor
            .Int(1, Float)
            .Message(2, shape => shape
                .Message(1, d => d.String(2, BatchDimension))
                .Message(1, d => d.Int(1, width)))));
}
