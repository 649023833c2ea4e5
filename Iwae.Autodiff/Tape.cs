using System.Numerics;

namespace Iwae.Autodiff;

/// <summary>
/// Reverse-mode autodiff. Each op (one file each under Ops/, forward and backward side by side) computes
/// its value, appends a node, and returns a <see cref="Var{T}"/>. <see cref="Backward(Var{T})"/> walks the nodes in
/// reverse and accumulates (+=) into input gradients; parameters receive theirs in <see cref="Parameter{T}.Grad"/>.
/// Every tensor of a step comes from the tape's <see cref="Arena{T}"/>, and node storage is reused after
/// <see cref="Reset"/>, so a step that repeats the previous one's shapes allocates nothing. The kernels of its ops, forward
/// and backward, run on the tape's <see cref="Execution"/>.
/// </summary>
public sealed partial class Tape<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal enum OpCode : byte
    {
        Leaf, Linear, LinearTanh, MatMul, Add, Sub, Mul, Scale, Tanh, Exp, Softplus, Sum, RepeatRows,
        Reshape, Transpose, LogSumExp, Softmax, StopGradient, BernoulliLogLik, GaussianLogDensity,
        StandardNormalLogDensity, LinearBernoulliLogLik,
    }

    internal struct Node
    {
        public OpCode Op;
        public int A, B, C;     // input ids, -1 when unused
        public T Scalar;        // op attribute (scale factor, ...)
        public int Arg;         // op attribute (axis, repeat count, ...)
    }

    private Node[] _nodes = new Node[64];
    private Tensor<T>[] _values = new Tensor<T>[64];
    private Tensor<T>[] _grads = new Tensor<T>[64];
    private bool[] _requiresGrad = new bool[64];
    private int _count;

    /// <summary>Where every tensor of a step lives.</summary>
    public Arena<T> Arena { get; }

    /// <summary>A tape with its own arena, its kernels on <paramref name="execution"/> (null: <see cref="Execution.Serial"/>, the caller's thread).</summary>
    public Tape(Execution? execution = null, int arenaChunkSize = 1 << 20)
    {
        Arena = new Arena<T>(arenaChunkSize);
        Execution = execution ?? Execution.Serial;
    }

    /// <summary>
    /// The threads (and their scratch) this tape's kernels run on. May change between ops: a trainer runs a step on one
    /// thread of its execution while that is faster. The values are the same bits on any.
    /// </summary>
    public Execution Execution
    {
        get => _execution;
        set => _execution = value ?? throw new ArgumentNullException(nameof(value));
    }

    private Execution _execution = Execution.Serial;

    /// <summary>
    /// Forward-only mode (like torch.no_grad): values are computed in the arena as usual, but nothing requires
    /// a gradient, so <see cref="Backward(Var{T})"/> has nothing to do. Used by evaluation.
    /// </summary>
    public bool NoGrad { get; set; }

    /// <summary>Number of recorded values.</summary>
    public int Count => _count;

    /// <summary>Forgets every node and rewinds the arena. Vars and tensors from before become invalid.</summary>
    public void Reset()
    {
        Array.Clear(_values, 0, _count);
        Array.Clear(_grads, 0, _count);
        _count = 0;
        _stopCursor = 0;
        Arena.Reset();
    }

    /// <summary>A value that gradients do not flow into (data, noise, constants).</summary>
    public Var<T> Constant(Tensor<T> value) => Push(OpCode.Leaf, value, requiresGrad: false);

    /// <summary>A constant rows x cols tensor of <paramref name="value"/>, allocated in the arena.</summary>
    public Var<T> Fill(int rows, int cols, T value)
    {
        var t = Arena.Allocate(rows, cols);
        t.Span.Fill(value);
        return Constant(t);
    }

    /// <summary>A trainable leaf: its value is the parameter's, its gradient accumulates into <see cref="Parameter{T}.Grad"/>.</summary>
    public Var<T> Param(Parameter<T> p)
    {
        var v = Push(OpCode.Leaf, p.Value, requiresGrad: true);
        if (!NoGrad) _grads[v.Id] = p.Grad;
        return v;
    }

    /// <summary>
    /// Computes d loss / d x for every x that <paramref name="loss"/> depends on, accumulating into parameter
    /// gradients (call <see cref="ParameterExtensions.ZeroGrad{T}"/> between steps). <paramref name="loss"/> must be [1,1].
    /// </summary>
    public void Backward(Var<T> loss) => Backward(loss, T.One);

    /// <summary>Backward with seed gradient <paramref name="seed"/> (d loss / d loss).</summary>
    public void Backward(Var<T> loss, T seed)
    {
        Check(loss);
        if (loss.Value.Length != 1) throw new ArgumentException($"Backward needs a [1,1] loss, got {loss.Value.ShapeString}", nameof(loss));
        if (!_requiresGrad[loss.Id]) return;
        GradOf(loss.Id).Span[0] += seed;
        for (int i = loss.Id; i >= 0; i--)
        {
            ref readonly Node n = ref _nodes[i];
            if (n.Op == OpCode.Leaf || _grads[i].IsNull || !_requiresGrad[i]) continue;
            switch (n.Op)
            {
                case OpCode.Linear: BackwardLinear(i, n); break;
                case OpCode.LinearTanh: BackwardLinearTanh(i, n); break;
                case OpCode.MatMul: BackwardMatMul(i, n); break;
                case OpCode.Add: BackwardAdd(i, n); break;
                case OpCode.Sub: BackwardSub(i, n); break;
                case OpCode.Mul: BackwardMul(i, n); break;
                case OpCode.Scale: BackwardScale(i, n); break;
                case OpCode.Tanh: BackwardTanh(i, n); break;
                case OpCode.Exp: BackwardExp(i, n); break;
                case OpCode.Softplus: BackwardSoftplus(i, n); break;
                case OpCode.Sum: BackwardSum(i, n); break;
                case OpCode.RepeatRows: BackwardRepeatRows(i, n); break;
                case OpCode.Reshape: BackwardReshape(i, n); break;
                case OpCode.Transpose: BackwardTranspose(i, n); break;
                case OpCode.LogSumExp: BackwardLogSumExp(i, n); break;
                case OpCode.Softmax: BackwardSoftmax(i, n); break;
                case OpCode.StopGradient: break;
                case OpCode.BernoulliLogLik: BackwardBernoulliLogLik(i, n); break;
                case OpCode.LinearBernoulliLogLik: BackwardLinearBernoulliLogLik(i, n); break;
                case OpCode.GaussianLogDensity: BackwardGaussianLogDensity(i, n); break;
                case OpCode.StandardNormalLogDensity: BackwardStandardNormalLogDensity(i, n); break;
                default: throw new InvalidOperationException($"no backward for {n.Op}");
            }
        }
    }

    internal Tensor<T> ValueOf(int id) => _values[id];

    internal Tensor<T> GradOrNull(int id) => _grads[id];

    internal bool RequiresGrad(int id) => _requiresGrad[id];

    /// <summary>The gradient buffer of value <paramref name="id"/>, created (zeroed) on first use.</summary>
    private Tensor<T> GradOf(int id)
    {
        if (_grads[id].IsNull)
        {
            var v = _values[id];
            var g = Arena.Allocate(v.Rows, v.Cols);
            Kernels.Elementwise.Clear(g.Span, Execution);
            _grads[id] = g;
        }
        return _grads[id];
    }

    /// <summary>
    /// The gradient buffer of value <paramref name="id"/> for an op that can either add into it or write all of it.
    /// On first use the buffer is not zeroed (<paramref name="fresh"/> is true) and the caller must write every
    /// element as 0 + its contribution, which is what adding into zeros gives, bit for bit (-0 included); a later
    /// contributor then adds as usual. This saves a clearing pass over the large activation gradients.
    /// </summary>
    private Tensor<T> GradForOverwrite(int id, out bool fresh)
    {
        fresh = _grads[id].IsNull;
        if (fresh)
        {
            var v = _values[id];
            _grads[id] = Arena.Allocate(v.Rows, v.Cols);
        }
        return _grads[id];
    }

    /// <summary>An uninitialised tensor for an op's output or scratch space.</summary>
    private Tensor<T> NewTensor(int rows, int cols) => Arena.Allocate(rows, cols);

    private Var<T> Push(OpCode op, Tensor<T> value, bool requiresGrad, int a = -1, int b = -1, int c = -1, T scalar = default, int arg = 0)
    {
        if (_count == _nodes.Length)
        {
            int size = _nodes.Length * 2;
            Array.Resize(ref _nodes, size);
            Array.Resize(ref _values, size);
            Array.Resize(ref _grads, size);
            Array.Resize(ref _requiresGrad, size);
        }
        int id = _count++;
        _nodes[id] = new Node { Op = op, A = a, B = b, C = c, Scalar = scalar, Arg = arg };
        _values[id] = value;
        _requiresGrad[id] = requiresGrad && !NoGrad;
        return new Var<T>(this, id);
    }

    private void Check(Var<T> v)
    {
        if (!ReferenceEquals(v.Tape, this)) throw new ArgumentException("the variable belongs to another tape");
        if ((uint)v.Id >= (uint)_count) throw new ArgumentException("the variable is stale: its tape was reset");
    }

    private static void CheckSameShape(string op, Var<T> a, Var<T> b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols)
            throw new ArgumentException($"{op}: shapes {a.Value.ShapeString} and {b.Value.ShapeString} differ");
    }

    private bool Needs(int id) => id >= 0 && _requiresGrad[id];

    private bool AnyRequiresGrad(Var<T> a) => _requiresGrad[a.Id];

    private bool AnyRequiresGrad(Var<T> a, Var<T> b) => _requiresGrad[a.Id] || _requiresGrad[b.Id];

    private bool AnyRequiresGrad(Var<T> a, Var<T> b, Var<T> c) => _requiresGrad[a.Id] || _requiresGrad[b.Id] || _requiresGrad[c.Id];
}
