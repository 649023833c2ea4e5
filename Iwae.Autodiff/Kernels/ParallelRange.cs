namespace Iwae.Autodiff.Kernels;

/// <summary>A compile-time flag: a kernel generic over it drops the branches it turns off.</summary>
internal interface IFlag { static abstract bool On { get; } }
internal readonly struct Yes : IFlag { public static bool On => true; }
internal readonly struct No : IFlag { public static bool On => false; }

/// <summary>The body of a range-parallel kernel: computes items [start, end) (elements or rows).</summary>
internal interface IRangeBody
{
    void Run(int start, int end);
}

/// <summary>
/// Runs an <see cref="IRangeBody"/> over [0, n) on an <see cref="Execution"/>'s threads, cut at multiples of <c>align</c>.
/// Every item is computed by the same code whichever part it falls in (bodies never reduce across items,
/// and an element's vector or scalar path depends only on its index when <c>align</c> is a multiple of the
/// vector width), so results are bit-identical for any thread count. Small jobs run on the caller:
/// a hand-off costs about a microsecond. The job's descriptor is the caller's workspace's, reused from call to call.
/// </summary>
internal sealed class ParallelRange<TBody> : IParallelWork where TBody : struct, IRangeBody
{
    /// <summary>Below this much work (about one element of a cheap elementwise op each) the caller runs alone.</summary>
    public const long MinWork = 32 * 1024;

    private TBody _body;
    private int _n, _align;

    /// <summary>Runs <paramref name="body"/> over [0, n) on <paramref name="execution"/>; <paramref name="work"/> is its cost in element-op units.</summary>
    public static void For(TBody body, int n, int align, long work, Execution? execution)
    {
        var e = execution ?? Execution.Serial;
        int threads = e.Threads;
        int parts = work < MinWork || threads <= 1 ? 1 : Math.Min(threads, n / align);
        if (parts <= 1)
        {
            body.Run(0, n);
            return;
        }
        var workspace = e.RentWorkspace();
        var w = workspace.Job<ParallelRange<TBody>>();
        (w._body, w._n, w._align) = (body, n, align);
        try { e.Run(w, parts, workspace); }
        finally
        {
            w._body = default;
            e.ReturnWorkspace(workspace);
        }
    }

    public void Run(int part, int parts, Workspace workspace)
    {
        int lo = Bound(part, parts), hi = Bound(part + 1, parts);
        if (lo < hi) _body.Run(lo, hi);
    }

    private int Bound(int part, int parts) => part == parts ? _n : (int)((long)part * (_n / _align) / parts) * _align;
}

/// <summary>The body of a <see cref="TensorSlices{TBody}"/> job: items [start, end) of tensor <c>index</c>.</summary>
internal interface ISegmentBody
{
    void Run(int index, int start, int end);
}

/// <summary>
/// Several tensors in one parallel job (one hand-off for all of them), each cut the same way: share s of n is the s-th
/// of n nearly equal parts of every tensor, cut at multiples of <c>align</c>. A thread that runs the same share from call
/// to call (the caller claims the first at once) so keeps the same part of every tensor. For Adam that is a part of
/// every weight, its gradient and its moments, and what a GEMM then reads of a weight comes half from each core, not all
/// of some weights from one core and all of the others from the other, as one cut through the tensors laid end to end
/// gave (measured figures: docs/performance.md, "What was tried").
/// </summary>
internal readonly struct TensorSlices<TBody>(TBody body, int[] lengths, int slices, int align) : IRangeBody where TBody : struct, ISegmentBody
{
    /// <summary>Runs <paramref name="body"/> over every item of tensors of <paramref name="lengths"/>, one slice per thread of <paramref name="execution"/>.</summary>
    public static void For(TBody body, int[] lengths, int align, long workPerItem, Execution? execution)
    {
        long items = 0;
        foreach (int n in lengths) items += n;
        long work = items * workPerItem;
        int slices = work < ParallelRange<TensorSlices<TBody>>.MinWork ? 1 : (execution ?? Execution.Serial).Threads;
        ParallelRange<TensorSlices<TBody>>.For(new TensorSlices<TBody>(body, lengths, slices, align), slices, 1, work, execution);
    }

    /// <summary>Runs slices [start, end).</summary>
    public void Run(int start, int end)
    {
        for (int s = start; s < end; s++)
            for (int t = 0; t < lengths.Length; t++)
            {
                int n = lengths[t], units = n / align;
                int lo = (int)((long)s * units / slices) * align, hi = s + 1 == slices ? n : (int)((long)(s + 1) * units / slices) * align;
                if (lo < hi) body.Run(t, lo, hi);
            }
    }
}
