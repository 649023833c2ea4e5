namespace Iwae.Autodiff;

// StopGradient: y = x in the forward pass; in the backward pass y is a constant: nothing flows to x.
//   x [R,C] -> y [R,C] (shares x's storage)
// The IWAE's normalised importance weights pass through it, so that d/dtheta sum_s w_s log w_s = grad L_k.
// For GradCheck, a tape can record the values that pass here and replay them in perturbed passes: that is
// what "treated as a constant" means for a finite difference.
public sealed partial class Tape<T>
{
    private List<T[]>? _stopRecord;
    private bool _stopReplay;
    private int _stopCursor;

    /// <summary>Identity forward; blocks the gradient. The result never requires grad.</summary>
    public Var<T> StopGradient(Var<T> x)
    {
        Check(x);
        var v = x.Value;
        if (_stopRecord is not null)
        {
            if (!_stopReplay) _stopRecord.Add(v.ToArray());
            else
            {
                if (_stopCursor >= _stopRecord.Count) throw new InvalidOperationException("StopGradient replay: the graph has more StopGradient nodes than when it was recorded");
                var saved = _stopRecord[_stopCursor++];
                if (saved.Length != v.Length) throw new InvalidOperationException("StopGradient replay: shape changed since recording");
                v = NewTensor(v.Rows, v.Cols);
                saved.CopyTo(v.Span);
            }
        }
        return Push(OpCode.StopGradient, v, requiresGrad: false, x.Id);
    }

    /// <summary>Starts recording the values that pass through StopGradient (GradCheck's unperturbed pass).</summary>
    internal void RecordStopGradients(List<T[]> record)
    {
        _stopRecord = record;
        _stopReplay = false;
    }

    /// <summary>Makes StopGradient return the recorded values, in order, instead of its input.</summary>
    internal void ReplayStopGradients(List<T[]> record)
    {
        _stopRecord = record;
        _stopReplay = true;
        _stopCursor = 0;
    }
}
