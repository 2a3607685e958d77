import type { Question } from "../hooks/useQuestion";
import { Modal } from "./Modal";

/** A yes/no question above everything else; closing it answers no. */
export function QuestionDialog({ question, onAnswer }: { question: Question; onAnswer: (ok: boolean) => void }) {
  return (
    <Modal above title="Leave unsaved changes?" onClose={() => onAnswer(false)}>
      <p>{question.text}</p>
      <div className="row">
        <button type="button" className="primary" data-testid="confirm-yes" onClick={() => onAnswer(true)}>
          {question.yes}
        </button>
        <button type="button" onClick={() => onAnswer(false)}>
          Cancel
        </button>
      </div>
    </Modal>
  );
}
